import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Clipboard, ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { IClusterActions } from './components/ClusterCard';
import { ClusterSidebar } from './components/Sidebar';
import { DaskDashboardBridge } from './daskDashboard';
import { daskClusterIcon } from './icons';
import { ClusterModel } from './model';
import { insertCodeCell, targetNotebook } from './notebook';

const PLUGIN_ID = 'dask-cluster-launcher:plugin';
const SIDEBAR_ID = 'dask-cluster-launcher-sidebar';
const CATEGORY = 'Dask Clusters';

export namespace CommandIDs {
  export const openSidebar = 'dask-cluster-launcher:open-sidebar';
  export const insertClientCode = 'dask-cluster-launcher:insert-client-code';
  export const copyClientCode = 'dask-cluster-launcher:copy-client-code';
  export const stopCluster = 'dask-cluster-launcher:stop-cluster';
  export const openDashboard = 'dask-cluster-launcher:open-dashboard';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A sidebar to launch, watch and use Dask clusters.',
  autoStart: true,
  optional: [
    ICommandPalette,
    ILayoutRestorer,
    INotebookTracker,
    ISettingRegistry
  ],
  activate: async (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const { commands, serviceManager } = app;
    const model = new ClusterModel({ events: serviceManager.events });
    const dashboards = new DaskDashboardBridge({
      commands,
      shell: app.shell,
      model,
      baseUrl: serviceManager.serverSettings.baseUrl
    });

    // '' = the profile the server marks `default`.
    let defaultProfile = '';
    if (settingRegistry) {
      try {
        const settings = await settingRegistry.load(PLUGIN_ID);
        defaultProfile = (settings.composite.defaultProfile as string) ?? '';
      } catch (reason) {
        console.warn('dask-cluster-launcher: settings not loaded', reason);
      }
    }

    /** The cluster a command is about: its `id`, or the latest running one. */
    const clusterId = (args: ReadonlyPartialJSONObject): string => {
      const id = (args.id as string) || model.latestRunning()?.id;
      if (!id) {
        throw new Error('No running cluster: launch one first.');
      }
      return id;
    };
    const notifyErrors =
      (fn: (args: ReadonlyPartialJSONObject) => Promise<void>) =>
      async (args: ReadonlyPartialJSONObject) => {
        try {
          await fn(args);
        } catch (error) {
          Notification.error((error as Error).message, { autoClose: 5000 });
          throw error;
        }
      };

    commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open the Clusters sidebar',
      icon: daskClusterIcon,
      execute: () => app.shell.activateById(SIDEBAR_ID)
    });
    /** Insert a cluster's client code below the active notebook cell. */
    const insertCode = async (id: string): Promise<void> => {
      targetNotebook(notebooks);
      const code = await model.snippet(id);
      // The snippet request took a moment: use the notebook current now.
      insertCodeCell(targetNotebook(notebooks), code);
    };

    commands.addCommand(CommandIDs.insertClientCode, {
      label: 'Insert Dask client code into the notebook',
      execute: notifyErrors(async args => {
        targetNotebook(notebooks);
        await insertCode(clusterId(args));
      })
    });
    commands.addCommand(CommandIDs.copyClientCode, {
      label: 'Copy Dask client code',
      execute: notifyErrors(async args => {
        const code = await model.snippet(clusterId(args));
        Clipboard.copyToSystem(code);
        Notification.success('Client code copied.', { autoClose: 2000 });
      })
    });
    commands.addCommand(CommandIDs.stopCluster, {
      label: 'Stop a Dask cluster',
      execute: notifyErrors(async args => {
        await model.stop(clusterId(args));
      })
    });
    commands.addCommand(CommandIDs.openDashboard, {
      label: 'Open the Dask dashboard in JupyterLab (dask-labextension)',
      isVisible: () => dashboards.available,
      isEnabled: () => dashboards.available && !!model.latestRunning(),
      execute: notifyErrors(async args => {
        await dashboards.open(clusterId(args));
      })
    });
    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: CATEGORY });
      }
    }

    // Card buttons: errors are shown on the card itself.
    const actions: IClusterActions = {
      insertCode,
      copyCode: async id => {
        Clipboard.copyToSystem(await model.snippet(id));
        Notification.success('Client code copied.', { autoClose: 2000 });
      },
      scale: async (id, workers) => {
        await model.scale(id, workers);
      },
      adapt: async (id, minimum, maximum) => {
        await model.adapt(id, minimum, maximum);
      },
      stop: id => model.stop(id),
      jobLog: (id, jobId) => model.jobLog(id, jobId),
      openDashboard: id => dashboards.open(id)
    };

    const sidebar = new ClusterSidebar({
      model,
      actions,
      baseUrl: serviceManager.serverSettings.baseUrl,
      defaultProfile,
      dashboards
    });
    sidebar.id = SIDEBAR_ID;
    sidebar.title.icon = daskClusterIcon;
    sidebar.title.caption = 'Clusters';
    app.shell.add(sidebar, 'left', { rank: 200 });
    restorer?.add(sidebar, SIDEBAR_ID);

    void model.refresh();
    // Events missed while the tab slept (or the socket reconnected): resync.
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && !model.isDisposed) {
        void model.refreshClusters();
      }
    });
  }
};

export default plugin;
