/**
 * A JupyterLab notification for each cluster launched from this browser: in
 * progress while it starts (its step, jobs pending, jobs that ended before
 * their worker joined), then success with "Insert client code" and "Show"
 * once its first worker joined (counting the workers as they join), or
 * failure with the reason. It shows wherever the user is, also with the
 * Clusters sidebar closed, and goes away when the cluster stops: an action of
 * a stopped cluster would only answer "no cluster with id ...".
 */
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { jobCategory, jobEnded } from './clusterStates';
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

/** Workers the cluster asks for from the start (adaptive: its minimum). */
function wantedWorkers(cluster: ICluster): number {
  const scaling = cluster.scaling;
  if (scaling && 'adapt' in scaling) {
    return Math.max(0, scaling.adapt.minimum);
  }
  return maxWorkers(scaling);
}

/**
 * "2 jobs pending, 1 of 4 workers" while a cluster starts, with the step it
 * is at ("scheduler up, waiting for workers") and the error of jobs that
 * ended before their worker joined.
 */
export function progressMessage(
  cluster: ICluster,
  trans: TranslationBundle
): string {
  const parts: string[] = [];
  if (cluster.phase) {
    parts.push(cluster.phase);
  }
  const pending = cluster.jobs.filter(j => jobCategory(j.state) === 'pending');
  if (pending.length > 0) {
    const reason = pending.find(j => j.reason)?.reason;
    parts.push(
      trans._n('%1 job pending', '%1 jobs pending', pending.length) +
        (reason ? ` (${reason})` : '')
    );
  }
  const ended = cluster.jobs.filter(j => jobEnded(j));
  if (ended.length > 0) {
    const error = ended.find(j => j.error)?.error;
    parts.push(
      trans._n(
        '%1 job ended before its worker joined',
        '%1 jobs ended before their workers joined',
        ended.length
      ) + (error ? ` (${error})` : '')
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

/** "running with 6 workers", "running with 2 of 6 workers": what is true. */
export function runningMessage(
  cluster: ICluster,
  trans: TranslationBundle
): string {
  const joined = cluster.workers.length;
  const wanted = wantedWorkers(cluster);
  if (joined === 0) {
    return trans.__(
      'Dask cluster %1 is running; workers join when there is work',
      cluster.name
    );
  }
  const workers =
    joined < wanted
      ? trans._n('%2 of %1 worker', '%2 of %1 workers', wanted, joined)
      : trans._n('%1 worker', '%1 workers', joined);
  return trans.__('Dask cluster %1 is running with %2', cluster.name, workers);
}

/** What a tracked notification shows now. */
type Stage = 'starting' | 'running' | 'failed';

/** Tracks the clusters launched here and keeps one notification each. */
export class LaunchProgress {
  constructor(options: ILaunchProgressOptions) {
    this._options = options;
    options.model.clustersChanged.connect(this._onChanged, this);
  }

  /** Notification ids by cluster id, until the cluster stops (for tests). */
  get tracked(): ReadonlyMap<string, string> {
    return new Map(Array.from(this._notes, ([id, t]) => [id, t.note]));
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
    const note = Notification.emit(
      progressMessage(cluster, this._options.trans),
      'in-progress',
      { autoClose: false, actions: [this._showAction(cluster.id)] }
    );
    this._notes.set(cluster.id, { note, stage: 'starting', message: '' });
    this._update(cluster.id);
  }

  private _showAction(id: string): Notification.IAction {
    return {
      label: this._options.trans.__('Show'),
      caption: this._options.trans.__('Show the cluster in the sidebar'),
      callback: () => this._options.show(id)
    };
  }

  private _insertAction(id: string): Notification.IAction {
    const { trans, model } = this._options;
    return {
      label: trans.__('Insert client code'),
      caption: trans.__('Insert the Client code below the active cell'),
      displayType: 'accent',
      callback: () => {
        if (model.cluster(id)?.state !== 'running') {
          return; // stopped meanwhile: its notification is going away
        }
        this._options
          .insertCode(id)
          .catch(error =>
            Notification.error((error as Error).message, { autoClose: 5000 })
          );
      }
    };
  }

  private _onChanged(): void {
    for (const id of Array.from(this._notes.keys())) {
      this._update(id);
    }
  }

  private _update(clusterId: string): void {
    const tracked = this._notes.get(clusterId);
    if (!tracked) {
      return;
    }
    const { model, trans } = this._options;
    const cluster = model.cluster(clusterId);
    if (
      !cluster ||
      cluster.state === 'stopping' ||
      cluster.state === 'stopped'
    ) {
      Notification.dismiss(tracked.note);
      this._notes.delete(clusterId);
      return;
    }
    if (cluster.state === 'failed') {
      if (tracked.stage !== 'failed') {
        const reason = cluster.error ?? trans.__('no reason given');
        const message =
          tracked.stage === 'running'
            ? trans.__('Dask cluster %1 failed: %2', cluster.name, reason)
            : trans.__(
                'Dask cluster %1 failed to start: %2',
                cluster.name,
                reason
              );
        const actions = [this._showAction(clusterId)];
        this._show(tracked, 'failed', 'error', message, actions, false);
      }
      return;
    }
    if (cluster.state === 'running') {
      this._show(
        tracked,
        'running',
        'success',
        runningMessage(cluster, trans),
        [this._insertAction(clusterId), this._showAction(clusterId)],
        this._options.successAutoClose ?? 8000
      );
      return;
    }
    this._show(
      tracked,
      'starting',
      'in-progress',
      progressMessage(cluster, trans),
      [this._showAction(clusterId)],
      false
    );
  }

  /** Update the notification where its message changed. */
  private _show(
    tracked: ITracked,
    stage: Stage,
    type: Notification.TypeOptions,
    message: string,
    actions: Notification.IAction[],
    autoClose: number | false
  ): void {
    if (tracked.stage === stage && tracked.message === message) {
      return;
    }
    tracked.stage = stage;
    tracked.message = message;
    Notification.update({
      id: tracked.note,
      type,
      message,
      autoClose,
      actions
    });
  }

  private _options: ILaunchProgressOptions;
  private _notes = new Map<string, ITracked>();
}

/** A cluster's notification and what it shows. */
interface ITracked {
  note: string;
  stage: Stage;
  message: string;
}
