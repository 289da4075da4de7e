/**
 * The extension's commands (palette, card context menu, notifications): each
 * acts on the cluster named by `args.id`, or on the card right-clicked, or
 * asks (stop) or takes the latest running cluster (client code, dashboard).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  ReadonlyJSONObject,
  ReadonlyPartialJSONObject
} from '@lumino/coreutils';
import { JobLogPanel } from './components/JobLog';
import { DaskDashboardBridge } from './daskDashboard';
import { canConnect, dashboardHref, isActive } from './format';
import { daskClusterIcon } from './icons';
import { ClusterModel } from './model';
import { ICluster } from './types';

export namespace CommandIDs {
  export const openSidebar = 'dask-cluster-launcher:open-sidebar';
  export const insertClientCode = 'dask-cluster-launcher:insert-client-code';
  export const copyClientCode = 'dask-cluster-launcher:copy-client-code';
  export const stopCluster = 'dask-cluster-launcher:stop-cluster';
  export const scaleCluster = 'dask-cluster-launcher:scale-cluster';
  export const openDashboard = 'dask-cluster-launcher:open-dashboard';
  export const openDashboardTab = 'dask-cluster-launcher:open-dashboard-tab';
  export const showCluster = 'dask-cluster-launcher:show-cluster';
  export const openJobLog = 'dask-cluster-launcher:open-job-log';
}

/**
 * Ask before stopping a cluster that has workers or batch jobs (work would be
 * lost, queue places given up); one with neither stops at once. The card's
 * Stop and the context menu's Stop… both ask here; `always` asks for any
 * cluster (one picked from a list by name). Resolves whether to stop.
 */
export async function confirmStop(
  cluster: ICluster,
  trans: TranslationBundle,
  always = false
): Promise<boolean> {
  const workers = cluster.workers.length;
  const jobs = cluster.jobs.length;
  if (!always && (cluster.state === 'failed' || workers + jobs === 0)) {
    return true;
  }
  const answer = await showDialog({
    title: trans.__('Stop %1?', cluster.name),
    body:
      workers + jobs === 0
        ? trans.__(
            'Stop the Dask cluster %1 (%2)? Clients connected to it lose it.',
            cluster.name,
            cluster.backend
          )
        : trans.__(
            'Stop the Dask cluster %1 (%2)? Its %3 and %4 end; clients connected to it lose it.',
            cluster.name,
            cluster.backend,
            trans._n('%1 worker', '%1 workers', workers),
            trans._n('%1 batch job', '%1 batch jobs', jobs)
          ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Stop') })
    ]
  });
  return answer.button.accept;
}

/** Commands in the palette (the others need a cluster to act on). */
const PALETTE_COMMANDS = [
  CommandIDs.openSidebar,
  CommandIDs.insertClientCode,
  CommandIDs.copyClientCode,
  CommandIDs.scaleCluster,
  CommandIDs.stopCluster,
  CommandIDs.openDashboard,
  CommandIDs.openDashboardTab
];

/** Static args of the context menu's items: the card comes from the click. */
const FROM_MENU: ReadonlyJSONObject = { fromContextMenu: true };
const CARD_SELECTOR = '.dcl-ClusterCard';

export interface ICommandsOptions {
  app: JupyterFrontEnd;
  model: ClusterModel;
  dashboards: DaskDashboardBridge;
  trans: TranslationBundle;
  baseUrl: string;
  palette: ICommandPalette | null;
  /** Insert a cluster's client code below the active notebook cell. */
  insertCode: (id: string) => Promise<void>;
  /** Open the sidebar at a cluster's card. */
  show: (id: string) => void;
  /** Copy a cluster's explicit (full) client code. */
  copyCode: (id: string) => Promise<void>;
}

/** Register the commands, their palette entries and the card context menu. */
export function addCommands(options: ICommandsOptions): void {
  const { app, model, dashboards, trans, baseUrl, palette } = options;
  const { commands } = app;
  const category = trans.__('Dask Clusters');

  /** The card under the last right-click. */
  const clicked = (): ICluster | undefined => {
    const node = app.contextMenuHitTest(n => !!n.dataset?.clusterId);
    return node ? model.cluster(node.dataset.clusterId!) : undefined;
  };
  /** The cluster named by the args or the click, if any. */
  const named = (args: ReadonlyPartialJSONObject): ICluster | undefined =>
    typeof args.id === 'string'
      ? model.cluster(args.id)
      : args.fromContextMenu
        ? clicked()
        : undefined;
  /** ...or else the latest running one. */
  const target = (args: ReadonlyPartialJSONObject): ICluster => {
    const cluster = named(args) ?? model.latestRunning();
    if (!cluster) {
      throw new Error(trans.__('No running cluster: launch one first.'));
    }
    return cluster;
  };
  /** A short label in the card's context menu, a longer one elsewhere. */
  const menuOrPalette =
    (inMenu: string, elsewhere: string) => (args: ReadonlyPartialJSONObject) =>
      args.fromContextMenu ? inMenu : elsewhere;
  const running = (args: ReadonlyPartialJSONObject) =>
    args.fromContextMenu ? clicked()?.state === 'running' : true;
  /** Client code is there once the scheduler is up, before any worker. */
  const connectable = (args: ReadonlyPartialJSONObject) => {
    if (!args.fromContextMenu) {
      return true;
    }
    const cluster = clicked();
    return !!cluster && canConnect(cluster);
  };
  const notifyErrors =
    (fn: (args: ReadonlyPartialJSONObject) => Promise<void>) =>
    async (args: ReadonlyPartialJSONObject) => {
      try {
        await fn(args);
      } catch (error) {
        Notification.error((error as Error).message, { autoClose: 5000 });
      }
    };

  /** Ask which active cluster (none asked when there is only one). */
  const choose = async (title: string): Promise<ICluster | undefined> => {
    const active = model.sortedClusters.filter(c => isActive(c.state));
    if (active.length <= 1) {
      if (active.length === 0) {
        Notification.info(trans.__('No Dask cluster is running.'), {
          autoClose: 3000
        });
      }
      return active[0];
    }
    const labels = active.map(c =>
      trans.__('%1 (%2, %3)', c.name, c.backend, c.state)
    );
    const result = await InputDialog.getItem({
      title,
      label: trans.__('Cluster'),
      items: labels,
      current: 0,
      okLabel: trans.__('Next'),
      cancelLabel: trans.__('Cancel')
    });
    if (!result.button.accept || result.value === null) {
      return undefined;
    }
    return active[labels.indexOf(result.value)];
  };

  commands.addCommand(CommandIDs.openSidebar, {
    label: trans.__('Open the Clusters sidebar'),
    icon: daskClusterIcon,
    execute: () => app.shell.activateById('dask-cluster-launcher-sidebar')
  });
  commands.addCommand(CommandIDs.showCluster, {
    label: trans.__('Show in the Clusters sidebar'),
    execute: args => {
      const cluster = named(args);
      if (cluster) {
        options.show(cluster.id);
      }
    }
  });
  commands.addCommand(CommandIDs.insertClientCode, {
    label: menuOrPalette(
      trans.__('Insert Client Code'),
      trans.__('Insert Dask client code into the notebook')
    ),
    isEnabled: connectable,
    execute: notifyErrors(args => options.insertCode(target(args).id))
  });
  commands.addCommand(CommandIDs.copyClientCode, {
    label: menuOrPalette(
      trans.__('Copy Full Client Code'),
      trans.__('Copy the full Dask client code (address and TLS files)')
    ),
    isEnabled: connectable,
    execute: notifyErrors(args => options.copyCode(target(args).id))
  });
  commands.addCommand(CommandIDs.openJobLog, {
    label: args =>
      trans.__('Open the Output of Batch Job %1', String(args.jobId ?? '')),
    execute: args => {
      const id = String(args.id);
      const jobId = String(args.jobId);
      const widgetId = JobLogPanel.widgetId(id, jobId);
      const open = Array.from(app.shell.widgets('main')).find(
        w => w.id === widgetId
      );
      if (open) {
        app.shell.activateById(widgetId);
        return;
      }
      const panel = new JobLogPanel({
        clusterId: id,
        clusterName: model.cluster(id)?.name ?? id,
        jobId,
        load: job => model.jobLog(id, job),
        trans
      });
      app.shell.add(panel, 'main'); // a tab, as a file opens
      app.shell.activateById(panel.id);
    }
  });
  commands.addCommand(CommandIDs.openDashboardTab, {
    label: menuOrPalette(
      trans.__('Open Dashboard in a Browser Tab'),
      trans.__('Open the Dask dashboard in a browser tab')
    ),
    isEnabled: running,
    execute: notifyErrors(async args => {
      const cluster = target(args);
      const href = dashboardHref(cluster.dashboard_url, baseUrl);
      if (!href) {
        throw new Error(trans.__('%1 has no dashboard.', cluster.name));
      }
      window.open(href, '_blank', 'noopener');
    })
  });
  commands.addCommand(CommandIDs.openDashboard, {
    label: menuOrPalette(
      trans.__('Open Dashboard in JupyterLab'),
      trans.__('Open the Dask dashboard in JupyterLab (dask-labextension)')
    ),
    isVisible: () => dashboards.available,
    isEnabled: args =>
      dashboards.available &&
      (args.fromContextMenu ? running(args) : !!model.latestRunning()),
    execute: notifyErrors(args => dashboards.open(target(args).id))
  });
  commands.addCommand(CommandIDs.scaleCluster, {
    label: menuOrPalette(trans.__('Scale…'), trans.__('Scale a Dask cluster…')),
    isEnabled: args =>
      args.fromContextMenu ? isActive(clicked()?.state ?? 'stopped') : true,
    execute: notifyErrors(async args => {
      const cluster =
        named(args) ?? (await choose(trans.__('Scale a Dask cluster')));
      if (!cluster) {
        return;
      }
      let workers = args.workers as number | undefined;
      if (typeof workers !== 'number') {
        const scaling = cluster.scaling;
        const result = await InputDialog.getNumber({
          title: trans.__('Scale %1', cluster.name),
          label: trans.__('Workers'),
          value: 'workers' in scaling ? scaling.workers : scaling.adapt.maximum,
          okLabel: trans.__('Scale'),
          cancelLabel: trans.__('Cancel')
        });
        if (!result.button.accept || result.value === null) {
          return;
        }
        workers = result.value;
      }
      await model.scale(cluster.id, Math.max(0, Math.floor(workers)));
    })
  });
  commands.addCommand(CommandIDs.stopCluster, {
    label: menuOrPalette(trans.__('Stop…'), trans.__('Stop a Dask cluster')),
    isEnabled: args =>
      args.fromContextMenu ? clicked()?.state !== 'stopping' : true,
    execute: notifyErrors(async args => {
      const given = named(args);
      const cluster = given ?? (await choose(trans.__('Stop a Dask cluster')));
      if (!cluster) {
        return;
      }
      // picked by name from a list: always confirmed
      const always = given === undefined;
      if (
        args.confirm !== false &&
        !(await confirmStop(cluster, trans, always))
      ) {
        return;
      }
      await model.stop(cluster.id);
    })
  });

  if (palette) {
    for (const command of PALETTE_COMMANDS) {
      palette.addItem({ command, category });
    }
  }
  const menu: [string, number][] = [
    [CommandIDs.insertClientCode, 1],
    [CommandIDs.copyClientCode, 2],
    [CommandIDs.openDashboardTab, 3],
    [CommandIDs.openDashboard, 4],
    [CommandIDs.scaleCluster, 5],
    [CommandIDs.stopCluster, 6]
  ];
  for (const [command, rank] of menu) {
    app.contextMenu.addItem({
      command,
      args: FROM_MENU,
      selector: CARD_SELECTOR,
      rank
    });
  }
}
