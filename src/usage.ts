/**
 * What a batch cluster used (the model's `usage`, see usage.py): its words
 * on the card and in the Running panel ("0.03 core-hours"), a notification
 * when a cluster stops ("used 3.20 of at most 8.00 core-hours") and one when
 * it passes the site's warning threshold.
 */
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IUsage } from './clusterModel';
import { ClusterModel } from './model';
import { ICluster } from './types';

/**
 * Hours as usage.py's `shown_hours` writes them: two decimals below 10 (a
 * minute of a core is 0.02), one below 1000, whole hours above.
 */
export function formatUsageHours(hours: number): string {
  if (hours < 10) {
    return hours.toFixed(2);
  }
  return hours < 1000
    ? hours.toFixed(1)
    : Math.round(hours).toLocaleString('en-US');
}

/** "0.03 core-hours", with GPU-hours where GPUs were used. */
export function usageText(usage: IUsage, trans: TranslationBundle): string {
  const core = trans.__('%1 core-hours', formatUsageHours(usage.core_hours));
  return usage.gpu_hours > 0
    ? trans.__('%1, %2 GPU-hours', core, formatUsageHours(usage.gpu_hours))
    : core;
}

/**
 * "Dask cluster one stopped: used 0.03 of at most 0.67 core-hours"; "about"
 * where the batch system's accounting did not answer (the live estimate).
 */
export function stoppedMessage(
  cluster: ICluster,
  usage: IUsage,
  trans: TranslationBundle
): string {
  const used = formatUsageHours(usage.core_hours);
  const amount = usage.final ? used : trans.__('about %1', used);
  const gpus =
    usage.gpu_hours > 0
      ? trans.__(' and %1 GPU-hours', formatUsageHours(usage.gpu_hours))
      : '';
  // "at most" holds for one walltime: replacement jobs (lifetimes, refills) may pass it
  return usage.most_core_hours !== null &&
    usage.core_hours <= usage.most_core_hours
    ? trans.__(
        'Dask cluster %1 stopped: used %2 of at most %3 core-hours%4',
        cluster.name,
        amount,
        formatUsageHours(usage.most_core_hours),
        gpus
      )
    : trans.__(
        'Dask cluster %1 stopped: used %2 core-hours%3',
        cluster.name,
        amount,
        gpus
      );
}

/** "Dask cluster one passed 500 core-hours, the site's warning threshold". */
export function thresholdMessage(
  cluster: ICluster,
  usage: IUsage,
  trans: TranslationBundle
): string {
  return trans.__(
    "Dask cluster %1 has used %2 core-hours, past the site's warning threshold of %3",
    cluster.name,
    formatUsageHours(usage.core_hours),
    formatUsageHours(usage.warning_core_hours ?? 0)
  );
}

/** Notifies when a batch cluster stops, and when it passes the threshold. */
export class UsageNotices {
  constructor(model: ClusterModel, trans: TranslationBundle) {
    this._model = model;
    this._trans = trans;
    model.clustersChanged.connect(this._onChanged, this);
  }

  dispose(): void {
    this._model.clustersChanged.disconnect(this._onChanged, this);
    this._last.clear();
  }

  private _onChanged(): void {
    const clusters = this._model.clusters;
    for (const [id, last] of this._last) {
      if (!clusters.has(id)) {
        this._last.delete(id);
        if (last.state !== 'failed' && last.usage) {
          Notification.info(stoppedMessage(last, last.usage, this._trans), {
            autoClose: 10000
          });
        }
      }
    }
    for (const [id, cluster] of clusters) {
      const usage = cluster.usage;
      const threshold = usage?.warning_core_hours ?? null;
      // passed while watched (not on every reload of a page)
      const seen = this._last.get(id);
      const before = seen ? (seen.usage?.core_hours ?? 0) : null;
      if (
        usage &&
        threshold !== null &&
        before !== null &&
        before < threshold &&
        usage.core_hours >= threshold
      ) {
        Notification.warning(thresholdMessage(cluster, usage, this._trans), {
          autoClose: false
        });
      }
      this._last.set(id, cluster);
    }
  }

  private _model: ClusterModel;
  private _trans: TranslationBundle;
  /** Each cluster as last seen, to tell what it used once it is gone. */
  private _last = new Map<string, ICluster>();
}
