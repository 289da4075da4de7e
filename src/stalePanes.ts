import type { IStateDB } from '@jupyterlab/statedb';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { DaskDashboardBridge, NO_DASHBOARD_URL } from './daskDashboard';
import { ClusterModel } from './model';

/**
 * dask-labextension's saved state (`{url, cluster}`): the dashboard URL its
 * sidebar checks and its restored panes show after a reload.
 */
export const DASK_STATE_KEY = 'dask-dashboard-launcher';

/** Of a dashboard URL relayed by this server: the cluster id it names. */
export function relayedClusterId(
  url: string | null | undefined
): string | null {
  const match = /\/dask-cluster-launcher\/dashboard\/([0-9a-f]+)(?:\/|$)/.exec(
    url ?? ''
  );
  return match ? match[1] : null;
}

/**
 * Take one of our relayed dashboards out of dask-labextension's saved state
 * before it reads it, and return that URL (null when the state names no
 * dashboard of ours).
 *
 * After Stop My Server and a restart, the layout brings back the panes of a
 * cluster that may be gone; dask-labextension would check its URL every few
 * seconds (`individual-plots.json`, a 404 each time) until the user opens
 * another cluster's dashboard. It is pointed nowhere until the server's
 * clusters are known (see `settleRestoredPanes`).
 */
export async function holdSavedDashboard(
  state: IStateDB
): Promise<string | null> {
  const saved = (await state.fetch(DASK_STATE_KEY)) as
    ReadonlyPartialJSONObject | undefined;
  const url = typeof saved?.url === 'string' ? saved.url : null;
  if (relayedClusterId(url) === null) {
    return null;
  }
  await state.save(DASK_STATE_KEY, { ...saved, url: NO_DASHBOARD_URL });
  return url;
}

/** A restored pane's dashboard URL (dask-labextension's `DaskDashboard`). */
function paneUrl(pane: unknown): string | null {
  const url = (pane as { dashboardUrl?: unknown }).dashboardUrl;
  return typeof url === 'string' ? url : null;
}

/**
 * Once the server's clusters are known: show the held dashboard again when
 * its cluster still runs here; otherwise close the panes that name it (or
 * any cluster this server no longer runs) and leave dask-labextension
 * pointed nowhere.
 */
export async function settleRestoredPanes(
  bridge: DaskDashboardBridge,
  model: ClusterModel,
  held: string | null
): Promise<void> {
  const running = (id: string | null) =>
    id !== null && model.cluster(id)?.state === 'running';
  const heldId = relayedClusterId(held);
  if (heldId !== null && running(heldId)) {
    await bridge.open(heldId);
    return;
  }
  const stale = bridge.panes().some(pane => {
    const id = relayedClusterId(paneUrl(pane));
    return id !== null && !running(id);
  });
  if (heldId !== null || stale) {
    await bridge.reset();
  }
}
