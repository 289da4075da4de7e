/**
 * Under JupyterHub, Stop My Server ends the clusters but JupyterLab's layout keeps
 * dask-labextension's panes of one of them: after the restart they must not come back asking
 * the gone cluster's relay (`.../dashboard/<old id>/individual-plots.json`, a 404 every few
 * seconds). Here: open a cluster's panes, leave the page, stop the cluster behind its back,
 * come back: the panes are closed and nothing asks for the old dashboard.
 */
import { expect, test } from '@jupyterlab/galata';
import {
  fillFixedScaling,
  launch,
  pick,
  startGoldenPath,
  stopClustersAfterEach
} from './helpers';

const PREFIX = 'ui-stale-panes-';
const PANE = '.dask-DaskDashboard-widget';
const API = 'dask-cluster-launcher';

test.describe('Dashboard panes after a restart', () => {
  stopClustersAfterEach(PREFIX);

  test('panes of a cluster stopped while JupyterLab was away are closed, unasked', async ({
    page
  }) => {
    const { errors, name, sidebar } = await startGoldenPath(
      page,
      PREFIX,
      'profile:local'
    );
    await pick(sidebar, 'profile:local');
    await fillFixedScaling(sidebar, 1, name);
    const card = await launch(sidebar, name);
    await expect(card.locator('.dcl-state')).toHaveText('running', {
      timeout: 60000
    });
    const href = await card.getByTestId('dcl-dashboard').getAttribute('href');
    const id = /\/dask-cluster-launcher\/dashboard\/([0-9a-f]+)\//.exec(
      href ?? ''
    )![1];
    await card.getByTestId('dcl-open-dashboard').click();
    await expect(page.locator(PANE)).toHaveCount(3);
    // the layout and dask-labextension's URL reach the workspace (debounced)
    await page.waitForTimeout(2000);

    // a reload while the cluster runs shows its panes again, once each
    // (the active tab is a pane, not the launcher Galata waits for)
    await page.reload({ waitForIsReady: false });
    const relay = `/dask-cluster-launcher/dashboard/${id}/`;
    await expect(page.locator(`${PANE} iframe[src*="${relay}"]`)).toHaveCount(
      3
    );
    await expect(page.locator(PANE)).toHaveCount(3);
    await page.waitForTimeout(2000);

    // the server goes on without this page: its cluster stops
    await page.evaluate(() => window.location.assign('about:blank'));
    await page.waitForURL('about:blank');
    const stopped = await page.request.delete(`/${API}/clusters/${id}`);
    expect(stopped.status()).toBe(204);

    const asked: string[] = [];
    page.on('request', request => {
      if (request.url().includes(`/dashboard/${id}`)) {
        asked.push(request.url());
      }
    });
    await page.goto();
    // restored, then closed once the launcher knows the server's clusters
    await expect(page.locator(PANE)).toHaveCount(0);
    // dask-labextension checks its URL every few seconds: give it time to ask
    await page.waitForTimeout(6000);
    await expect(page.locator(PANE)).toHaveCount(0);
    expect(asked).toEqual([]);
    expect(errors.filter(e => e.includes(id))).toEqual([]);
  });
});
