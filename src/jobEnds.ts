/**
 * Notifications for batch jobs that ended unexpectedly (walltime, memory, a
 * node failure, an error): "2 workers' jobs reached the walltime (00:01:00);
 * replacing", with the job's log one click away. The reasons come from the
 * batch system's accounting (the job rows' `end`, see job_ends.py), for a
 * running cluster; a job that ended because the launcher let its worker go
 * (scale-down, lifetime) is not announced, nor one of a failed start (its own
 * notification says why).
 */
import { Notification } from '@jupyterlab/apputils';
import type { ClusterModel } from './model';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ICluster, IJob } from './types';

/** Ends worth telling the user about (SLURM's words, SGE's mapped onto them). */
const UNEXPECTED = new Set([
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'FAILED',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE'
]);

/** Whether a job's accounted end is one to announce. */
export function endedUnexpectedly(job: IJob): boolean {
  return !!job.end && UNEXPECTED.has(job.end.state);
}

/**
 * The notice for jobs that just ended unexpectedly, grouped by reason ("2
 * workers' jobs reached the walltime (00:01:00); replacing"); null for none.
 */
export function jobEndNotice(
  cluster: ICluster,
  ended: IJob[],
  trans: TranslationBundle
): string | null {
  if (!ended.length) {
    return null;
  }
  const byReason = new Map<string, number>();
  for (const job of ended) {
    const reason = (job.end?.reason ?? job.end?.state ?? '')
      .replace('its walltime', 'the walltime')
      .replace(' its ', ' the ');
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }
  const parts = Array.from(
    byReason,
    ([reason, count]) =>
      `${trans._n("%1 worker's job", "%1 workers' jobs", count)} ${reason}`
  );
  // adaptive scaling submits a job in place of one that ended; so does the host of a
  // fixed-size cluster (it keeps the number of workers asked for)
  const scaling = cluster.scaling;
  const replacing =
    cluster.state === 'running' && ('adapt' in scaling || scaling.workers > 0);
  const text = `${cluster.name}: ${parts.join('; ')}`;
  return replacing ? trans.__('%1; replacing', text) : text;
}

export interface IJobEndNoticesOptions {
  model: ClusterModel;
  trans: TranslationBundle;
  openJobLog: (id: string, jobId: string) => void;
}

/** Emits a notification when a cluster's job row gets an unexpected end. */
export class JobEndNotices {
  constructor(options: IJobEndNoticesOptions) {
    this._options = options;
    options.model.clustersChanged.connect(this._onChanged, this);
    this._onChanged(); // ends already there when the page loads are not news
  }

  dispose(): void {
    this._options.model.clustersChanged.disconnect(this._onChanged, this);
  }

  private _onChanged(): void {
    const { model, trans, openJobLog } = this._options;
    const first = !this._started;
    this._started = true;
    for (const cluster of model.clusters.values()) {
      const seen = this._seen.get(cluster.id) ?? new Set<string>();
      this._seen.set(cluster.id, seen);
      const fresh = (cluster.jobs ?? []).filter(
        j => endedUnexpectedly(j) && !seen.has(j.job_id)
      );
      fresh.forEach(j => seen.add(j.job_id));
      // a failed start has its own notification (progress.ts)
      const told = first || cluster.state !== 'running';
      const message = told ? null : jobEndNotice(cluster, fresh, trans);
      if (message) {
        const last = fresh[fresh.length - 1];
        Notification.warning(message, {
          autoClose: 10000,
          actions: [
            {
              label: trans.__('Log'),
              caption: trans.__('Show the output of job %1', last.job_id),
              callback: () => openJobLog(cluster.id, last.job_id)
            }
          ]
        });
      }
    }
    for (const id of Array.from(this._seen.keys())) {
      if (!model.clusters.has(id)) {
        this._seen.delete(id);
      }
    }
  }

  private _options: IJobEndNoticesOptions;
  private _seen = new Map<string, Set<string>>();
  private _started = false;
}
