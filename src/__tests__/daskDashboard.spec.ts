import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';
import {
  DASK_PANE_CLASS,
  DaskCommandIDs,
  DaskDashboardBridge,
  labextensionDashboardUrl,
  NO_DASHBOARD_URL,
  waitFor
} from '../daskDashboard';
import { ClusterModel } from '../model';
import { ICluster } from '../types';
import * as fixtures from './fixtures';

/** A running local cluster whose dashboard is proxied. */
function cluster(overrides: Partial<ICluster> = {}): ICluster {
  return fixtures.cluster({
    state: 'running',
    scheduler_address: 'tcp://127.0.0.1:1',
    dashboard_link: 'http://127.0.0.1:40123/status',
    dashboard_url: 'proxy/40123/status',
    scaling: { workers: 1 },
    ...overrides
  });
}

/** Like a MainAreaWidget, a pane is disposed when closed. */
class FakePane extends Widget {
  protected onCloseRequest(): void {
    this.dispose();
  }
}

/**
 * A stand-in for dask-labextension's commands: the layout command becomes
 * enabled once a URL was populated (as its asynchronous check does).
 */
function fakeDaskLabextension(commands: CommandRegistry, panes: Widget[]) {
  const calls: { id: string; args: any }[] = [];
  let url = '';
  commands.addCommand(DaskCommandIDs.populateDashboardUrl, {
    execute: args => {
      calls.push({ id: DaskCommandIDs.populateDashboardUrl, args });
      url = args.url as string;
      return url;
    }
  });
  commands.addCommand(DaskCommandIDs.launchLayout, {
    isEnabled: () => !!url && url !== NO_DASHBOARD_URL,
    execute: () => {
      calls.push({ id: DaskCommandIDs.launchLayout, args: { url } });
      const pane = new FakePane();
      pane.addClass(DASK_PANE_CLASS);
      panes.push(pane);
    }
  });
  return calls;
}

describe('labextensionDashboardUrl', () => {
  it('gives the absolute proxied URL without the status page', () => {
    const base = 'http://hub.example/user/ann/';
    expect(labextensionDashboardUrl('proxy/40123/status', base)).toBe(
      'http://hub.example/user/ann/proxy/40123/'
    );
    // Already including the base path: not doubled.
    expect(labextensionDashboardUrl('/user/ann/proxy/1/status', base)).toBe(
      'http://hub.example/user/ann/proxy/1/'
    );
    expect(labextensionDashboardUrl(null, base)).toBeNull();
  });
});

describe('waitFor', () => {
  it('resolves when the condition holds and rejects after the timeout', async () => {
    let n = 0;
    await waitFor(() => ++n >= 3, 1000, 1, 'never');
    expect(n).toBe(3);
    await expect(waitFor(() => false, 5, 1, 'too slow')).rejects.toThrow(
      'too slow'
    );
  });
});

describe('DaskDashboardBridge', () => {
  let commands: CommandRegistry;
  let model: ClusterModel;
  let panes: Widget[];
  let bridge: DaskDashboardBridge;
  const shell = { widgets: () => panes.filter(p => !p.isDisposed).values() };
  /** A bridge to this test's commands, shell and model. */
  const newBridge = (check: () => Promise<boolean>, timeout: number) =>
    new DaskDashboardBridge({
      commands,
      shell,
      model,
      baseUrl: 'http://localhost:8888/',
      check,
      timeout,
      interval: 1
    });
  /** The server's event for a cluster that is new or changed. */
  const updated = (c: ICluster) =>
    model.applyEvent({ action: 'updated', cluster_id: c.id, cluster: c });

  beforeEach(() => {
    commands = new CommandRegistry();
    model = new ClusterModel();
    panes = [];
    bridge = newBridge(async () => true, 200);
  });

  afterEach(() => bridge.dispose());

  it('is unavailable without dask-labextension and tells when it loads', async () => {
    expect(bridge.available).toBe(false);
    await expect(bridge.open('c1')).rejects.toThrow('dask-labextension');
    const changed = jest.fn();
    bridge.changed.connect(changed);
    fakeDaskLabextension(commands, panes);
    expect(bridge.available).toBe(true);
    expect(changed).toHaveBeenCalled();
  });

  it('opens the layout for the proxied URL and tracks the shown cluster', async () => {
    const calls = fakeDaskLabextension(commands, panes);
    updated(cluster());
    await bridge.open('c1');
    expect(calls).toEqual([
      {
        id: DaskCommandIDs.populateDashboardUrl,
        args: { url: 'http://localhost:8888/proxy/40123/' }
      },
      {
        id: DaskCommandIDs.launchLayout,
        args: { url: 'http://localhost:8888/proxy/40123/' }
      }
    ]);
    expect(bridge.shownClusterId).toBe('c1');
    expect(bridge.panes()).toHaveLength(1);
  });

  it('switches to another cluster without leaving the old URL', async () => {
    const calls = fakeDaskLabextension(commands, panes);
    updated(cluster());
    updated(cluster({ id: 'c2', dashboard_url: 'proxy/40999/status' }));
    await bridge.open('c1');
    await bridge.open('c2');
    expect(bridge.shownClusterId).toBe('c2');
    expect(calls[calls.length - 1].args.url).toBe(
      'http://localhost:8888/proxy/40999/'
    );
  });

  it('closes the panes and points away when the shown cluster stops', async () => {
    const calls = fakeDaskLabextension(commands, panes);
    updated(cluster());
    await bridge.open('c1');
    const [pane] = bridge.panes();
    updated(cluster({ state: 'stopping' }));
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(pane.isDisposed).toBe(true);
    expect(bridge.shownClusterId).toBeNull();
    expect(calls[calls.length - 1]).toEqual({
      id: DaskCommandIDs.populateDashboardUrl,
      args: { url: NO_DASHBOARD_URL }
    });
    // Removing it later changes nothing more.
    const before = calls.length;
    model.applyEvent({ action: 'removed', cluster_id: 'c1' });
    expect(calls).toHaveLength(before);
  });

  it('leaves dask-labextension alone when another cluster stops', async () => {
    const calls = fakeDaskLabextension(commands, panes);
    updated(cluster());
    updated(cluster({ id: 'c2' }));
    await bridge.open('c1');
    const before = calls.length;
    model.applyEvent({ action: 'removed', cluster_id: 'c2' });
    expect(calls).toHaveLength(before);
    expect(bridge.shownClusterId).toBe('c1');
  });

  it('refuses clusters that are not running or whose dashboard does not answer', async () => {
    fakeDaskLabextension(commands, panes);
    updated(cluster({ state: 'starting' }));
    await expect(bridge.open('c1')).rejects.toThrow('not running');
    const down = newBridge(async () => false, 5);
    updated(cluster());
    await expect(down.open('c1')).rejects.toThrow('does not answer');
    expect(down.shownClusterId).toBeNull();
    down.dispose();
  });
});
