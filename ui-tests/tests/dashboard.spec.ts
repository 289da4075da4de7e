/**
 * Dask dashboards inside JupyterLab through dask-labextension: open its default layout for a
 * cluster of ours (proxied URL), see its panes load from that cluster, compute, stop.
 */
import { expect, test } from '@jupyterlab/galata';
import type { WebSocket } from '@playwright/test';
import {
  cardNamed,
  collectConsoleErrors,
  openSidebar,
  pick,
  shot,
  stopClustersNamed,
  stopFromCard,
  useFromNotebook
} from './helpers';

const PREFIX = 'ui-dashboard-';
const PANE = '.dask-DaskDashboard-widget';

test.describe('Dashboard in JupyterLab', () => {
  test.afterEach(async ({ page }) => {
    await stopClustersNamed(page, PREFIX);
  });

  test('open the dashboard panes, compute, stop without errors', async ({
    page
  }) => {
    const errors = collectConsoleErrors(page);
    const name = `${PREFIX}${Date.now()}`;
    const sidebar = await openSidebar(page, 'profile:local');

    // With this project's default (overrides.d), dask-labextension's own
    // cluster manager (and its NEW button) is hidden: one place to launch.
    const settings = await (
      await page.request.get('/lab/api/settings/dask-labextension:plugin')
    ).json();
    if (settings.schema?.properties?.hideClusterManager?.default === true) {
      await expect(page.locator('.dask-DaskClusterManager')).toBeHidden();
    }

    await pick(sidebar, 'profile:local');
    await sidebar.getByTestId('dcl-scaling-fixed').check();
    await sidebar.getByTestId('dcl-workers').fill('2');
    await sidebar.getByTestId('dcl-name').fill(name);
    await sidebar.getByTestId('dcl-launch').click();
    const card = cardNamed(sidebar, name);
    await expect(card.locator('.dcl-state')).toHaveText('running', {
      timeout: 60000
    });
    const proxied = await card
      .getByTestId('dcl-dashboard')
      .getAttribute('href');
    // the dashboard is relayed by the extension from the cluster's private socket
    const relay = /\/dask-cluster-launcher\/dashboard\/[0-9a-f]+\//.exec(
      proxied ?? ''
    )![0];

    // Everything the panes load from the cluster: pages and bokeh websockets.
    const served: string[] = [];
    page.on('response', r => {
      if (r.url().includes(relay) && r.status() === 200) {
        served.push(r.url());
      }
    });
    let frames = 0;
    page.on('websocket', (ws: WebSocket) => {
      if (ws.url().includes(relay)) {
        ws.on('framereceived', () => frames++);
      }
    });

    await card.getByTestId('dcl-open-dashboard').click();
    await expect(card.getByTestId('dcl-dashboard-shown')).toBeVisible();
    const panes = page.locator(PANE);
    await expect(panes).toHaveCount(3); // dask-labextension's default layout
    const taskStream = page.locator(`${PANE}:has(iframe[src*="task-stream"])`);
    await expect(taskStream.locator('iframe')).toHaveAttribute(
      'src',
      new RegExp(`${relay}individual-task-stream`)
    );
    // The bokeh document is served from this cluster through the proxy.
    await expect
      .poll(() => served.some(u => u.includes('individual-task-stream')))
      .toBe(true);
    await expect
      .poll(() => frames, { message: 'bokeh websocket messages' })
      .toBeGreaterThan(0);
    await shot(page, '01-panes');

    // Compute from the inserted client code; the panes get new data.
    await useFromNotebook(page, card, 'dashboard.ipynb');
    const before = frames;
    await page.notebook.addCell(
      'code',
      'import dask.array as da\n' +
        'da.random.random((4000, 4000), chunks=(250, 250)).sum().compute()'
    );
    const last = (await page.notebook.getCellCount()) - 1;
    await page.notebook.runCell(last);
    await expect(
      page
        .locator('.jp-Notebook .jp-Cell')
        .nth(last)
        .locator('.jp-OutputArea-output')
    ).toContainText(/\d/, { timeout: 60000 });
    await expect
      .poll(() => frames, { message: 'task stream updates' })
      .toBeGreaterThan(before);
    await page.locator(PANE).first().click();
    await shot(page, '02-after-compute');

    // Stop: the panes close, nothing complains.
    await page.sidebar.openTab('dask-cluster-launcher-sidebar');
    await stopFromCard(card);
    await expect(panes).toHaveCount(0);
    // dask-labextension checks its URL every 4 s: give it time to complain.
    await page.waitForTimeout(6000);
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    await shot(page, '03-stopped');
    // Nothing polls the stopped cluster's dashboard (no 404 in the console).
    expect(errors).toEqual([]);
  });
});
