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
 * before it reads it, and resolve to that URL (null when the state names no
 * dashboard of ours). Call it when the plugin activates, before awaiting
 * anything.
 *
 * After Stop My Server and a restart, the layout brings back the panes of a
 * cluster that may be gone; dask-labextension would check its URL every few
 * seconds (`individual-plots.json`, a 404 each time) until the user opens
 * another cluster's dashboard. It is pointed nowhere until the server's
 * clusters are known (see `settleRestoredPanes`).
 *
 * dask-labextension reads its state as it activates, in the same turn as
 * this plugin: whoever fetches that key before the held state is saved waits
 * for it (the state database answers fetches in the order they came, so a
 * fetch and save here could not overtake its read otherwise).
 */
export function holdSavedDashboard(state: IStateDB): Promise<string | null> {
  const original = state.fetch;
  const fetch = original.bind(state);
  const hold = async (): Promise<string | null> => {
    const saved = (await fetch(DASK_STATE_KEY)) as
      ReadonlyPartialJSONObject | undefined;
    const url = typeof saved?.url === 'string' ? saved.url : null;
    if (relayedClusterId(url) === null) {
      return null;
    }
    await state.save(DASK_STATE_KEY, { ...saved, url: NO_DASHBOARD_URL });
    return url;
  };
  const held = hold();
  const waiting = state as { fetch: IStateDB['fetch'] };
  waiting.fetch = async (id: string) => {
    if (id === DASK_STATE_KEY) {
      await held.catch(() => null);
    }
    return fetch(id);
  };
  const done = () => {
    waiting.fetch = original; // the database's own again
  };
  held.then(done, done);
  return held;
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
