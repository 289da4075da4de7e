import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Clipboard, ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRunningSessionManagers } from '@jupyterlab/running';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator } from '@jupyterlab/translation';
import { addCommands, CommandIDs } from './commands';
import { IClusterActions } from './components/ClusterCard';
import { KernelChoices } from './components/KernelPicker';
import { ClusterSidebar } from './components/Sidebar';
import { DaskDashboardBridge } from './daskDashboard';
import { ClusterEventSocket } from './events';
import { daskClusterIcon } from './icons';
import { LaunchMemory } from './memory';
import { ClusterModel } from './model';
import { insertCodeCell, targetNotebook } from './notebook';
import { LaunchProgress } from './progress';
import { addRunningClusters } from './running';
import { translationBundle } from './translation';

export { CommandIDs };

const PLUGIN_ID = 'dask-cluster-launcher:plugin';
const SIDEBAR_ID = 'dask-cluster-launcher-sidebar';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A sidebar to launch, watch and use Dask clusters.',
  autoStart: true,
  optional: [
    ICommandPalette,
    ILayoutRestorer,
    INotebookTracker,
    ISettingRegistry,
    ITranslator,
    IStateDB,
    IRunningSessionManagers
  ],
  activate: async (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    state: IStateDB | null,
    running: IRunningSessionManagers | null
  ) => {
    const { commands, serviceManager } = app;
    const trans = translationBundle(translator);
    const baseUrl = serviceManager.serverSettings.baseUrl;
    const events = new ClusterEventSocket({
      serverSettings: serviceManager.serverSettings
    });
    const model = new ClusterModel({ events, trans });
    const dashboards = new DaskDashboardBridge({
      commands,
      shell: app.shell,
      model,
      baseUrl,
      trans
    });

    // Settings apply as they change (see schema/plugin.json).
    let settings: ISettingRegistry.ISettings | null = null;
    if (settingRegistry) {
      try {
        settings = await settingRegistry.load(PLUGIN_ID);
      } catch (reason) {
        console.warn('dask-cluster-launcher: settings not loaded', reason);
      }
    }
    // '' = the profile the server marks `default`.
    const defaultProfile = () =>
      (settings?.composite.defaultProfile as string | undefined) ?? '';
    const startNotifications = () =>
      (settings?.composite.startNotifications as boolean | undefined) ?? true;

    /** Insert a cluster's client code below the active notebook cell. */
    const insertCode = async (id: string): Promise<void> => {
      const panel = targetNotebook(notebooks, trans);
      const kernel = panel.sessionContext.session?.kernel?.name;
      const { code, warning } = await model.snippetFor(id, kernel);
      // The snippet request took a moment: use the notebook current now.
      insertCodeCell(targetNotebook(notebooks, trans), code);
      if (warning) {
        // the versions distributed would complain about when the client connects
        Notification.warning(warning, { autoClose: false });
      }
    };
    const copyCode = async (id: string): Promise<void> => {
      Clipboard.copyToSystem(await model.snippet(id));
      Notification.success(trans.__('Client code copied.'), {
        autoClose: 2000
      });
    };
    /** Open the sidebar at a cluster's card. */
    const show = (id: string): void => {
      app.shell.activateById(SIDEBAR_ID);
      sidebar.reveal(id);
    };
    const stopReporting = (id: string) =>
      model.stop(id).catch(error => {
        Notification.error((error as Error).message, { autoClose: 5000 });
      });

    addCommands({
      app,
      model,
      dashboards,
      trans,
      baseUrl,
      palette,
      insertCode,
      show
    });

    const progress = new LaunchProgress({
      model,
      trans,
      insertCode,
      show,
      enabled: startNotifications
    });

    // Card buttons: errors are shown on the card itself.
    const actions: IClusterActions = {
      insertCode,
      copyCode,
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
      baseUrl,
      defaultProfile: defaultProfile(),
      dashboards,
      translator,
      memory: state ? new LaunchMemory(state) : null,
      onLaunched: cluster => progress.track(cluster),
      // A cluster can run a kernel's Python; the active notebook's preselected.
      kernels: new KernelChoices({
        specs: serviceManager.kernelspecs,
        notebooks
      })
    });
    sidebar.id = SIDEBAR_ID;
    sidebar.title.icon = daskClusterIcon;
    sidebar.title.caption = trans.__('Dask Clusters');
    app.shell.add(sidebar, 'left', { rank: 200 });
    restorer?.add(sidebar, SIDEBAR_ID);
    settings?.changed.connect(() =>
      sidebar.setDefaultProfile(defaultProfile())
    );

    if (running) {
      addRunningClusters(running, { model, trans, show, stop: stopReporting });
    }

    void model.refresh();
    // Events missed while the socket was closed: resync.
    events.reconnected.connect(() => void model.refreshClusters());
    // Events missed while the tab slept: resync.
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && !model.isDisposed) {
        void model.refreshClusters();
      }
    });
  }
};

export default plugin;
