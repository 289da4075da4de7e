import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

/**
 * The launcher's cluster event socket (the server's
 * `handlers.ClusterEventsHandler`), open to those allowed to read clusters.
 * Not Jupyter's event bus: that one serves anyone allowed `events`, and
 * carries whatever anyone allowed to post events sends.
 */
export const CLUSTER_EVENTS_PATH = 'dask-cluster-launcher/events';

/** Where the model gets its cluster events from (a fake in the specs). */
export interface IClusterEventSource {
  /** Each message as sent: `{schema_id, action, cluster_id, ...}`. */
  readonly stream: ISignal<unknown, Record<string, any>>;
}

/** Retry delays after the socket closed: first, doubled up to the last (ms). */
const RETRY_FIRST = 1000;
const RETRY_MAX = 30000;

/**
 * The cluster events, from a WebSocket that reconnects (backing off) when it
 * closes; `reconnected` says when events may have been missed.
 */
export class ClusterEventSocket implements IClusterEventSource, IDisposable {
  constructor(options: ClusterEventSocket.IOptions = {}) {
    this._settings = options.serverSettings ?? ServerConnection.makeSettings();
    this._connect();
  }

  get stream(): ISignal<this, Record<string, any>> {
    return this._stream;
  }

  /** The socket opened again after it closed: resync what it may have missed. */
  get reconnected(): ISignal<this, void> {
    return this._reconnected;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    clearTimeout(this._timer);
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.close();
    }
    Signal.clearData(this);
  }

  private _connect(): void {
    const { appendToken, token, WebSocket, wsUrl } = this._settings;
    let url = URLExt.join(wsUrl, CLUSTER_EVENTS_PATH);
    if (appendToken && token !== '') {
      url += `?token=${encodeURIComponent(token)}`;
    }
    const socket = (this._socket = new WebSocket(url));
    socket.onopen = () => {
      this._delay = RETRY_FIRST;
      if (this._opened) {
        this._reconnected.emit();
      }
      this._opened = true;
    };
    socket.onmessage = message => {
      try {
        this._stream.emit(JSON.parse(message.data));
      } catch {
        console.warn('dask-cluster-launcher: not a cluster event', message);
      }
    };
    socket.onclose = () => {
      if (this._isDisposed) {
        return;
      }
      this._timer = setTimeout(() => this._connect(), this._delay);
      this._delay = Math.min(this._delay * 2, RETRY_MAX);
    };
  }

  private _settings: ServerConnection.ISettings;
  private _socket: WebSocket | null = null;
  private _opened = false;
  private _delay = RETRY_FIRST;
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _isDisposed = false;
  private _stream = new Signal<this, Record<string, any>>(this);
  private _reconnected = new Signal<this, void>(this);
}

export namespace ClusterEventSocket {
  export interface IOptions {
    serverSettings?: ServerConnection.ISettings;
  }
}
