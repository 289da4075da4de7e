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
import { addCommands, CommandIDs, confirmStop } from './commands';
import { IClusterActions } from './components/ClusterCard';
import { KernelChoices } from './components/KernelPicker';
import { ClusterSidebar } from './components/Sidebar';
import { DaskDashboardBridge } from './daskDashboard';
import { ClusterEventSocket } from './events';
import { daskClusterIcon } from './icons';
import { LaunchMemory } from './memory';
import { ClusterModel } from './model';
import { insertCodeCell, targetNotebook } from './notebook';
import { JobEndNotices } from './jobEnds';
import { LaunchProgress } from './progress';
import { UsageNotices } from './usage';
import { addRunningClusters } from './running';
import { translationBundle } from './translation';
import { holdSavedDashboard, settleRestoredPanes } from './stalePanes';

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
    // before dask-labextension reads it: a restored layout may name a
    // cluster that is gone (see stalePanes)
    const heldDashboard = state
      ? holdSavedDashboard(state).catch(() => null)
      : Promise.resolve(null);
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
      trans,
      openClusters: () => app.shell.activateById(SIDEBAR_ID)
    });
    void app.restored.then(() => dashboards.pointToClusters());

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

    /** The notebook in the current tab, or null after saying there is none. */
    const visibleNotebook = () => {
      try {
        return targetNotebook(notebooks, app.shell.currentWidget, trans);
      } catch (error) {
        Notification.warning((error as Error).message, { autoClose: 6000 });
        return null;
      }
    };
    /**
     * Insert a cluster's client code (the short `connect` form where it has
     * one) below the active cell of the notebook in the current tab.
     */
    const insertCode = async (id: string): Promise<void> => {
      const panel = visibleNotebook();
      if (!panel) {
        return;
      }
      const kernel = panel.sessionContext.session?.kernel?.name;
      const snippet = await model.snippetFor(id, kernel);
      // The request took a moment: the notebook must still be the current tab.
      const target = visibleNotebook();
      if (!target) {
        return;
      }
      insertCodeCell(target, snippet.connect_code ?? snippet.code);
      if (snippet.warning) {
        // the versions distributed would complain about when the client connects
        Notification.warning(snippet.warning, { autoClose: false });
      }
    };
    /** Copy the explicit client code: address and TLS files, no helper. */
    const copyCode = async (id: string): Promise<void> => {
      Clipboard.copyToSystem((await model.snippetFor(id)).code);
      Notification.success(trans.__('Full client code copied.'), {
        autoClose: 2000
      });
    };
    /** Stop, asking first when the cluster has workers or jobs. */
    const askAndStop = async (id: string): Promise<void> => {
      const cluster = model.cluster(id);
      if (cluster && !(await confirmStop(cluster, trans))) {
        return;
      }
      await model.stop(id);
    };
    /** Open the sidebar at a cluster's card. */
    const show = (id: string): void => {
      app.shell.activateById(SIDEBAR_ID);
      sidebar.reveal(id);
    };
    const reportErrors = (stopping: Promise<void>) =>
      stopping.catch(error => {
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
      copyCode,
      show
    });

    // what a batch cluster used, when it stops or passes the site's threshold
    new UsageNotices(model, trans);
    const progress = new LaunchProgress({
      model,
      trans,
      insertCode,
      show,
      enabled: startNotifications
    });
    // a notification when a worker's job ends at its walltime, for memory, ...
    new JobEndNotices({
      model,
      trans,
      openJobLog: (id, jobId) =>
        void commands.execute(CommandIDs.openJobLog, { id, jobId })
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
      stop: askAndStop,
      openJobLog: (id, jobId) =>
        void commands.execute(CommandIDs.openJobLog, { id, jobId }),
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
      addRunningClusters(running, {
        model,
        trans,
        show,
        stop: id => reportErrors(askAndStop(id)),
        stopConfirmed: id => reportErrors(model.stop(id))
      });
    }

    const loaded = model.refresh();
    void Promise.all([app.restored, loaded, heldDashboard])
      .then(([, , held]) => settleRestoredPanes(dashboards, model, held))
      .catch(reason =>
        console.warn('dask-cluster-launcher: restored dashboard panes', reason)
      );
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
