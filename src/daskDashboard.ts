import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { CommandRegistry } from '@lumino/commands';
import { ISignal, Signal } from '@lumino/signaling';
import type { TranslationBundle } from '@jupyterlab/translation';
import { PanelLayout, Widget } from '@lumino/widgets';
import { dashboardHref } from './format';
import { ClusterModel } from './model';
import { translationBundle } from './translation';

/**
 * Public commands of dask-labextension (7.x) that this project uses. Nothing
 * else of it is touched, except closing its dashboard panes (found by their
 * CSS class) in the main area.
 */
export namespace DaskCommandIDs {
  /** args `{url}`: sets the dashboard URL of dask-labextension's sidebar. */
  export const populateDashboardUrl = 'dask:populate-dashboard-url';
  /** Opens the panes of its `defaultLayout` setting; enabled once a URL is live. */
  export const launchLayout = 'dask:launch-layout';
}

/** Id of dask-labextension's sidebar (dashboard URL box, plots, its cluster manager). */
export const DASK_SIDEBAR_ID = 'dask-dashboard-launcher';

/** CSS class of the line this project adds to dask-labextension's sidebar. */
export const CLUSTERS_POINTER_CLASS = 'dcl-DaskSidebarPointer';

/** CSS class of dask-labextension's dashboard panes (MainAreaWidget). */
export const DASK_PANE_CLASS = 'dask-DaskDashboard-widget';

/**
 * Where dask-labextension is pointed when no cluster of ours is shown: an
 * address that never hosts a dashboard (port 1 of the server's loopback
 * interface refuses at once). Its URL box cannot be emptied through its
 * commands (an empty `url` makes it probe the kernel), so after the shown
 * cluster stops it would otherwise keep polling the dead dashboard, whose
 * relay another cluster may take over.
 *
 * The address is outside the Jupyter server on purpose: dask-labextension
 * checks such URLs through its server-side `dask/dashboard-check/`, which
 * always answers 200 (here: inactive), so its polling leaves nothing in the
 * browser's console; a path under the server would log a 404 each time.
 */
export const NO_DASHBOARD_URL =
  'http://127.0.0.1:1/dask-cluster-launcher/no-dashboard/';

/**
 * The dashboard URL to hand to dask-labextension: the proxied one (through
 * jupyter-server-proxy, under the server's base URL, so it works behind
 * JupyterHub), absolute, without the trailing `status` page.
 *
 * dask-labextension checks a URL under the base URL from the browser with
 * the user's credentials (ServerConnection); only other URLs go to its
 * server-side `dask/dashboard-check/`, which sends no credentials and so
 * cannot see an authenticated proxied dashboard.
 */
export function labextensionDashboardUrl(
  dashboardUrl: string | null | undefined,
  baseUrl: string
): string | null {
  const href = dashboardHref(dashboardUrl, baseUrl);
  if (!href) {
    return null;
  }
  const base = new URL(baseUrl, window.location.href);
  return new URL(href, base).href.replace(/\/status\/?$/, '/');
}

/** Resolve once `condition()` holds; reject with `message` after `timeout` ms. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeout: number,
  interval: number,
  message: string
): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    if (await condition()) {
      return;
    }
    if (Date.now() >= end) {
      throw new Error(message);
    }
    await new Promise(resolve => setTimeout(resolve, interval));
  }
}

/** Whether a dashboard answers `individual-plots.json` (browser-side, with credentials). */
export async function dashboardIsUp(
  url: string,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<boolean> {
  try {
    const response = await ServerConnection.makeRequest(
      URLExt.join(url, 'individual-plots.json'),
      {},
      settings
    );
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Shows our clusters' dashboards inside JupyterLab through dask-labextension,
 * and keeps it from pointing at a cluster that is gone.
 *
 * dask-labextension has one dashboard URL for all its panes: opening another
 * cluster's dashboard re-points them; when the shown cluster stops (or
 * fails), its panes are closed and the URL is re-pointed away.
 */
export class DaskDashboardBridge {
  constructor(options: DaskDashboardBridge.IOptions) {
    this._commands = options.commands;
    this._shell = options.shell;
    this._model = options.model;
    this._baseUrl = options.baseUrl;
    this._check = options.check ?? (url => dashboardIsUp(url));
    this._timeout = options.timeout ?? 30000;
    this._interval = options.interval ?? 250;
    this._trans = options.trans ?? translationBundle();
    this._openClusters = options.openClusters ?? null;
    this._commands.commandChanged.connect(this._onCommandChanged, this);
    this._model.clustersChanged.connect(this._onClustersChanged, this);
  }

  /** Emitted when availability or the shown cluster changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether dask-labextension's commands are there (it may load after us). */
  get available(): boolean {
    return (
      this._commands.hasCommand(DaskCommandIDs.populateDashboardUrl) &&
      this._commands.hasCommand(DaskCommandIDs.launchLayout)
    );
  }

  /** The cluster whose dashboard dask-labextension shows, if one of ours. */
  get shownClusterId(): string | null {
    return this._shown;
  }

  dispose(): void {
    this._commands.commandChanged.disconnect(this._onCommandChanged, this);
    this._model.clustersChanged.disconnect(this._onClustersChanged, this);
    Signal.clearData(this);
  }

  /** Open dask-labextension's default layout of panes for a running cluster. */
  async open(id: string): Promise<void> {
    const trans = this._trans;
    if (!this.available) {
      throw new Error(
        trans.__('dask-labextension is not installed or not enabled.')
      );
    }
    const cluster = this._model.cluster(id);
    if (!cluster || cluster.state !== 'running') {
      throw new Error(trans.__('The cluster is not running.'));
    }
    const url = labextensionDashboardUrl(cluster.dashboard_url, this._baseUrl);
    if (!url) {
      throw new Error(trans.__('%1 has no dashboard.', cluster.name));
    }
    await waitFor(
      () => this._check(url),
      this._timeout,
      this._interval,
      trans.__('The dashboard of %1 does not answer at %2.', cluster.name, url)
    );
    if (this._model.cluster(id)?.state !== 'running') {
      throw new Error(trans.__('%1 stopped.', cluster.name));
    }
    this._setShown(id);
    await this._commands.execute(DaskCommandIDs.populateDashboardUrl, { url });
    // dask-labextension checks the URL asynchronously; its layout command is
    // enabled once a live dashboard is known (its panes follow URL changes).
    await waitFor(
      () => this._commands.isEnabled(DaskCommandIDs.launchLayout),
      this._timeout,
      this._interval,
      trans.__('dask-labextension did not accept the dashboard at %1.', url)
    );
    try {
      await this._commands.execute(DaskCommandIDs.launchLayout);
    } catch (error) {
      // dask-labextension 7.0 re-activates the previous main-area widget and
      // throws when there was none, after opening the panes.
      if (this.panes().length === 0) {
        throw error;
      }
    }
  }

  /**
   * Add a line to dask-labextension's sidebar that sends people to the
   * Clusters sidebar: its own "create a new Dask cluster with the cluster
   * manager below" points to a section this project hides (see
   * docs/dask-labextension.md), so the two Dask icons make one path. Safe to
   * call again (dask-labextension may load after us); true once added.
   */
  pointToClusters(): boolean {
    if (!this._openClusters) {
      return false;
    }
    const sidebar = Array.from(this._shell.widgets('left')).find(
      w => w.id === DASK_SIDEBAR_ID
    );
    const layout = sidebar?.layout as PanelLayout | null | undefined;
    if (!sidebar || typeof layout?.insertWidget !== 'function') {
      return false;
    }
    if (!sidebar.node.querySelector(`.${CLUSTERS_POINTER_CLASS}`)) {
      layout.insertWidget(0, clustersPointer(this._trans, this._openClusters));
      sidebar.addClass('dcl-mod-pointed');
    }
    return true;
  }

  /** dask-labextension's dashboard panes in the main area. */
  panes(): Widget[] {
    return Array.from(this._shell.widgets('main')).filter(w =>
      w.hasClass(DASK_PANE_CLASS)
    );
  }

  /**
   * Close dask-labextension's panes and point it where no dashboard is, so
   * it neither shows nor polls a stopped cluster.
   */
  async reset(): Promise<void> {
    this._setShown(null);
    for (const pane of this.panes()) {
      pane.close();
    }
    if (this.available) {
      await this._commands.execute(DaskCommandIDs.populateDashboardUrl, {
        url: NO_DASHBOARD_URL
      });
    }
  }

  private _onClustersChanged(): void {
    if (this._shown === null) {
      return;
    }
    const cluster = this._model.cluster(this._shown);
    if (!cluster || cluster.state !== 'running') {
      this.reset().catch(reason =>
        console.warn('dask-cluster-launcher: dashboard reset failed', reason)
      );
    }
  }

  private _onCommandChanged(
    _: CommandRegistry,
    args: CommandRegistry.ICommandChangedArgs
  ): void {
    if (
      (args.type === 'added' || args.type === 'removed') &&
      args.id?.startsWith('dask:')
    ) {
      this._changed.emit();
      // its sidebar is added right after its commands
      requestAnimationFrame(() => this.pointToClusters());
    }
  }

  private _setShown(id: string | null): void {
    if (this._shown !== id) {
      this._shown = id;
      this._changed.emit();
    }
  }

  private _commands: CommandRegistry;
  private _shell: DaskDashboardBridge.IShell;
  private _model: ClusterModel;
  private _baseUrl: string;
  private _check: (url: string) => Promise<boolean>;
  private _timeout: number;
  private _interval: number;
  private _trans: TranslationBundle;
  private _openClusters: (() => void) | null;
  private _shown: string | null = null;
  private _changed = new Signal<this, void>(this);
}

export namespace DaskDashboardBridge {
  /** The part of JupyterLab's shell used here. */
  export interface IShell {
    widgets(area?: string): IterableIterator<Widget>;
  }

  export interface IOptions {
    commands: CommandRegistry;
    shell: IShell;
    model: ClusterModel;
    /** The server's base URL (absolute). */
    baseUrl: string;
    /** Whether a dashboard URL answers (default: browser-side request). */
    check?: (url: string) => Promise<boolean>;
    /** How long to wait for the dashboard and dask-labextension (ms). */
    timeout?: number;
    interval?: number;
    /** Translates the errors shown on the card. */
    trans?: TranslationBundle;
    /** Open the Clusters sidebar (from the line added to dask-labextension's). */
    openClusters?: () => void;
  }
}

/** "Clusters are launched in the Clusters sidebar" and a button that opens it. */
function clustersPointer(
  trans: TranslationBundle,
  openClusters: () => void
): Widget {
  const widget = new Widget();
  widget.addClass(CLUSTERS_POINTER_CLASS);
  widget.node.dataset.testid = 'dcl-dask-sidebar-pointer';
  const text = document.createElement('p');
  text.textContent = trans.__(
    'Dask clusters are launched, scaled and stopped in the Clusters sidebar. To see a dashboard here, click "In JupyterLab" on a cluster\'s card, or paste a dashboard URL in the box below.'
  );
  const button = document.createElement('button');
  button.className = 'jp-mod-styled jp-mod-accept';
  button.textContent = trans.__('Open the Clusters sidebar');
  button.addEventListener('click', openClusters);
  widget.node.append(text, button);
  return widget;
}
