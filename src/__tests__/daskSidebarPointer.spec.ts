import { CommandRegistry } from '@lumino/commands';
import { Panel, Widget } from '@lumino/widgets';
import {
  CLUSTERS_POINTER_CLASS,
  DASK_SIDEBAR_ID,
  DaskDashboardBridge
} from '../daskDashboard';
import { ClusterModel } from '../model';

/** dask-labextension's sidebar as far as it matters here: a panel with its id. */
function daskSidebar(): Panel {
  const sidebar = new Panel();
  sidebar.id = DASK_SIDEBAR_ID;
  const inactive = new Widget();
  inactive.node.innerHTML =
    '<span class="dask-DashboardListing-inactive-detail">To connect, paste a dashboard URL in the box above, or create a new Dask cluster with the cluster manager below.</span>';
  sidebar.addWidget(inactive);
  return sidebar;
}

describe("The line in dask-labextension's sidebar", () => {
  it('points to the Clusters sidebar once its sidebar is there, and only once', () => {
    const left: Widget[] = [];
    const openClusters = jest.fn();
    const bridge = new DaskDashboardBridge({
      commands: new CommandRegistry(),
      shell: { widgets: () => left.values() },
      model: new ClusterModel(),
      baseUrl: 'http://localhost/',
      openClusters
    });
    // dask-labextension not loaded (yet): nothing to point from
    expect(bridge.pointToClusters()).toBe(false);

    const sidebar = daskSidebar();
    left.push(sidebar);
    expect(bridge.pointToClusters()).toBe(true);
    expect(bridge.pointToClusters()).toBe(true);
    const pointers = sidebar.node.querySelectorAll(
      `.${CLUSTERS_POINTER_CLASS}`
    );
    expect(pointers).toHaveLength(1);
    // first, above dask-labextension's own hint (hidden by the stylesheet)
    expect(sidebar.widgets[0].node).toBe(pointers[0]);
    expect(sidebar.hasClass('dcl-mod-pointed')).toBe(true);
    expect(pointers[0].textContent).toContain('Clusters sidebar');
    pointers[0].querySelector('button')!.click();
    expect(openClusters).toHaveBeenCalledTimes(1);
    bridge.dispose();
  });
});
