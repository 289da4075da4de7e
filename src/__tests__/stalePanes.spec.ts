import { NO_DASHBOARD_URL } from '../daskDashboard';
import {
  DASK_STATE_KEY,
  holdSavedDashboard,
  relayedClusterId,
  settleRestoredPanes
} from '../stalePanes';

const OLD =
  'http://localhost:8888/user/a/dask-cluster-launcher/dashboard/0a1b2c3d4e5f/';

function fakeState(initial: unknown) {
  const data = new Map<string, unknown>([[DASK_STATE_KEY, initial]]);
  return {
    data,
    fetch: jest.fn(async (key: string) => data.get(key)),
    save: jest.fn(async (key: string, value: unknown) => {
      data.set(key, value);
    })
  };
}

/** The bridge's part used here: its panes, reset and open. */
function fakeBridge(paneUrls: string[]) {
  return {
    panes: () => paneUrls.map(dashboardUrl => ({ dashboardUrl })),
    reset: jest.fn(async () => undefined),
    open: jest.fn(async (_id: string) => undefined)
  };
}

function fakeModel(clusters: Record<string, string>) {
  return {
    cluster: (id: string) =>
      id in clusters ? { state: clusters[id] } : undefined
  };
}

describe('relayedClusterId', () => {
  it('reads the id of a dashboard this server relays, and nothing else', () => {
    expect(relayedClusterId(OLD)).toBe('0a1b2c3d4e5f');
    expect(relayedClusterId(`${OLD}individual-plots.json`)).toBe(
      '0a1b2c3d4e5f'
    );
    expect(relayedClusterId('http://127.0.0.1:8787/')).toBeNull();
    expect(relayedClusterId(NO_DASHBOARD_URL)).toBeNull();
    expect(relayedClusterId(null)).toBeNull();
  });
});

describe('holdSavedDashboard', () => {
  it('points the saved state away from a dashboard of ours and returns it', async () => {
    const state = fakeState({ url: OLD, cluster: '' });
    expect(await holdSavedDashboard(state as any)).toBe(OLD);
    expect(state.data.get(DASK_STATE_KEY)).toEqual({
      url: NO_DASHBOARD_URL,
      cluster: ''
    });
  });

  it('makes a fetch of that key in the same turn wait for the held state', async () => {
    const state = fakeState({ url: OLD, cluster: '' });
    const own = state.fetch;
    const held = holdSavedDashboard(state as any);
    // dask-labextension, activating right after this plugin
    const read = state.fetch(DASK_STATE_KEY);
    expect(await read).toEqual({ url: NO_DASHBOARD_URL, cluster: '' });
    expect(await held).toBe(OLD);
    expect(state.fetch).toBe(own);
  });

  it('leaves any other dashboard and an empty state alone', async () => {
    for (const saved of [{ url: 'http://10.0.0.5:8787/' }, undefined]) {
      const state = fakeState(saved);
      expect(await holdSavedDashboard(state as any)).toBeNull();
      expect(state.save).not.toHaveBeenCalled();
    }
  });
});

describe('settleRestoredPanes', () => {
  it('closes the panes of a cluster this server no longer has', async () => {
    const bridge = fakeBridge(['']);
    await settleRestoredPanes(bridge as any, fakeModel({}) as any, OLD);
    expect(bridge.reset).toHaveBeenCalled();
    expect(bridge.open).not.toHaveBeenCalled();
  });

  it('closes panes still naming a stopped cluster with no saved state', async () => {
    const bridge = fakeBridge([OLD]);
    const model = fakeModel({ '0a1b2c3d4e5f': 'stopping' });
    await settleRestoredPanes(bridge as any, model as any, null);
    expect(bridge.reset).toHaveBeenCalled();
  });

  it("shows a running cluster's dashboard again", async () => {
    const bridge = fakeBridge(['']);
    const model = fakeModel({ '0a1b2c3d4e5f': 'running' });
    await settleRestoredPanes(bridge as any, model as any, OLD);
    expect(bridge.open).toHaveBeenCalledWith('0a1b2c3d4e5f');
    expect(bridge.reset).not.toHaveBeenCalled();
  });

  it('leaves panes of other dashboards alone', async () => {
    const bridge = fakeBridge(['http://10.0.0.5:8787/']);
    await settleRestoredPanes(bridge as any, fakeModel({}) as any, null);
    expect(bridge.reset).not.toHaveBeenCalled();
  });
});
