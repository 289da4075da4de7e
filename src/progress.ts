/**
 * A JupyterLab notification for each cluster launched from this browser: in
 * progress while it starts (jobs pending, then workers joining), then success
 * with "Insert client code" and "Show", or failure with the reason. It shows
 * wherever the user is, also with the Clusters sidebar closed.
 */
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { maxWorkers } from './resources';
import { ICluster } from './types';
import { ClusterModel } from './model';

export interface ILaunchProgressOptions {
  model: ClusterModel;
  trans: TranslationBundle;
  /** Insert the cluster's client code into the active notebook. */
  insertCode: (id: string) => Promise<void>;
  /** Open the sidebar at the cluster's card. */
  show: (id: string) => void;
  /** Whether to notify at all (the `startNotifications` setting). */
  enabled?: () => boolean;
  /** How long the success notice stays (ms). */
  successAutoClose?: number;
}

/** Workers the cluster waits for before it counts as started. */
function targetWorkers(cluster: ICluster): number {
  const scaling = cluster.scaling;
  if (scaling && 'adapt' in scaling) {
    return Math.max(0, Math.min(scaling.adapt.minimum, 1));
  }
  return Math.min(maxWorkers(scaling), 1);
}

/** "2 jobs pending, 1 of 4 workers" while a cluster starts. */
export function progressMessage(
  cluster: ICluster,
  trans: TranslationBundle
): string {
  const parts: string[] = [];
  const pending = cluster.jobs.filter(j =>
    /^(PENDING|PD|qw|hqw|CONFIGURING|CF)$/i.test(j.state)
  );
  if (pending.length > 0) {
    const reason = pending.find(j => j.reason)?.reason;
    parts.push(
      trans._n('%1 job pending', '%1 jobs pending', pending.length) +
        (reason ? ` (${reason})` : '')
    );
  }
  const scaling = cluster.scaling;
  const wanted =
    scaling && 'adapt' in scaling ? scaling.adapt.maximum : maxWorkers(scaling);
  parts.push(trans.__('%1 of %2 workers', cluster.workers.length, wanted));
  return trans.__(
    'Starting Dask cluster %1: %2',
    cluster.name,
    parts.join(', ')
  );
}

/** Tracks the clusters launched here and keeps one notification each. */
export class LaunchProgress {
  constructor(options: ILaunchProgressOptions) {
    this._options = options;
    options.model.clustersChanged.connect(this._onChanged, this);
  }

  /** Notification ids by cluster id (for tests). */
  get tracked(): ReadonlyMap<string, string> {
    return this._notes;
  }

  dispose(): void {
    this._options.model.clustersChanged.disconnect(this._onChanged, this);
    this._notes.clear();
  }

  /** Start a notification for a cluster just launched. */
  track(cluster: ICluster): void {
    if (this._notes.has(cluster.id) || !(this._options.enabled?.() ?? true)) {
      return;
    }
    const id = Notification.emit(
      progressMessage(cluster, this._options.trans),
      'in-progress',
      { autoClose: false, actions: [this._showAction(cluster.id)] }
    );
    this._notes.set(cluster.id, id);
    this._messages.set(cluster.id, '');
    this._update(cluster.id);
  }

  private _showAction(id: string): Notification.IAction {
    return {
      label: this._options.trans.__('Show'),
      caption: this._options.trans.__('Show the cluster in the sidebar'),
      callback: () => this._options.show(id)
    };
  }

  private _onChanged(): void {
    for (const id of Array.from(this._notes.keys())) {
      this._update(id);
    }
  }

  private _update(clusterId: string): void {
    const note = this._notes.get(clusterId);
    if (!note) {
      return;
    }
    const { model, trans } = this._options;
    const cluster = model.cluster(clusterId);
    const done = () => {
      this._notes.delete(clusterId);
      this._messages.delete(clusterId);
    };
    if (
      !cluster ||
      cluster.state === 'stopping' ||
      cluster.state === 'stopped'
    ) {
      Notification.dismiss(note);
      done();
      return;
    }
    if (cluster.state === 'failed') {
      Notification.update({
        id: note,
        type: 'error',
        message: trans.__(
          'Dask cluster %1 failed to start: %2',
          cluster.name,
          cluster.error ?? trans.__('no reason given')
        ),
        autoClose: false,
        actions: [this._showAction(clusterId)]
      });
      done();
      return;
    }
    if (
      cluster.state === 'running' &&
      cluster.workers.length >= targetWorkers(cluster)
    ) {
      Notification.update({
        id: note,
        type: 'success',
        message: trans.__(
          'Dask cluster %1 is running with %2',
          cluster.name,
          trans._n('%1 worker', '%1 workers', cluster.workers.length)
        ),
        autoClose: this._options.successAutoClose ?? 8000,
        actions: [
          {
            label: trans.__('Insert client code'),
            caption: trans.__('Insert the Client code below the active cell'),
            displayType: 'accent',
            callback: () => {
              this._options.insertCode(clusterId).catch(error =>
                Notification.error((error as Error).message, {
                  autoClose: 5000
                })
              );
            }
          },
          this._showAction(clusterId)
        ]
      });
      done();
      return;
    }
    const message = progressMessage(cluster, trans);
    if (message !== this._messages.get(clusterId)) {
      this._messages.set(clusterId, message);
      Notification.update({
        id: note,
        type: 'in-progress',
        message,
        autoClose: false,
        actions: [this._showAction(clusterId)]
      });
    }
  }

  private _options: ILaunchProgressOptions;
  private _notes = new Map<string, string>();
  private _messages = new Map<string, string>();
}
