/**
 * The user's Dask clusters in JupyterLab's Running panel, next to kernels and
 * terminals: click one to see its card, stop one or all.
 */
import type { IRunningSessionManagers } from '@jupyterlab/running';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { formatTotals, clusterTotals } from './format';
import { daskClusterIcon } from './icons';
import { ClusterModel } from './model';
import { usageText } from './usage';

export interface IRunningClustersOptions {
  model: ClusterModel;
  trans: TranslationBundle;
  /** Open the sidebar at the cluster's card. */
  show: (id: string) => void;
  /** Stop one cluster, asking first as the card's Stop does (errors are the caller's to report). */
  stop: (id: string) => Promise<void>;
  /** Stop a cluster the user already confirmed (Stop All asks once for all). */
  stopConfirmed: (id: string) => Promise<void>;
}

/** Add the "Dask Clusters" section to the Running panel. */
export function addRunningClusters(
  managers: IRunningSessionManagers,
  options: IRunningClustersOptions
): IDisposable {
  const { model, trans, show, stop, stopConfirmed } = options;
  const listed = () =>
    model.sortedClusters.filter(
      c => c.state === 'starting' || c.state === 'running'
    );
  return managers.add({
    name: trans.__('Dask Clusters'),
    running: () =>
      listed().map(cluster => ({
        className: 'dcl-RunningItem',
        context: cluster.id,
        icon: () => daskClusterIcon,
        label: () => cluster.name,
        labelTitle: () =>
          trans.__(
            '%1 (%2, %3): %4',
            cluster.name,
            cluster.backend,
            cluster.state,
            formatTotals(clusterTotals(cluster), trans)
          ),
        detail: () =>
          (cluster.state === 'running'
            ? trans._n('%1 worker', '%1 workers', cluster.workers.length)
            : trans.__('starting')) +
          (cluster.usage ? ` · ${usageText(cluster.usage, trans)}` : ''),
        open: () => show(cluster.id),
        shutdown: () => void stop(cluster.id)
      })),
    shutdownAll: () => {
      for (const cluster of listed()) {
        void stopConfirmed(cluster.id);
      }
    },
    refreshRunning: () => void model.refreshClusters(),
    runningChanged: model.clustersChanged,
    shutdownLabel: trans.__('Stop Cluster'),
    shutdownAllLabel: trans.__('Stop All'),
    shutdownAllConfirmationText: trans.__(
      'Are you sure you want to stop all your Dask clusters?'
    )
  });
}
