/**
 * Dask dashboards inside JupyterLab through dask-labextension: open its default layout for a
 * cluster of ours (proxied URL), see its panes load from that cluster, compute, stop.
 */
import { expect, test } from '@jupyterlab/galata';
import type { WebSocket } from '@playwright/test';
import {
  fillFixedScaling,
  launch,
  pick,
  runNewCell,
  shot,
  SIDEBAR_ID,
  startGoldenPath,
  stopClustersAfterEach,
  stopFromCard,
  useFromNotebook
} from './helpers';

const PREFIX = 'ui-dashboard-';
const PANE = '.dask-DaskDashboard-widget';

test.describe('Dashboard in JupyterLab', () => {
  stopClustersAfterEach(PREFIX);

  test('open the dashboard panes, compute, stop without errors', async ({
    page
  }) => {
    const { errors, name, sidebar } = await startGoldenPath(
      page,
      PREFIX,
      'profile:local'
    );

    // With this project's default (overrides.d), dask-labextension's own
    // cluster manager (and its NEW button) is hidden: one place to launch.
    const settings = await (
      await page.request.get('/lab/api/settings/dask-labextension:plugin')
    ).json();
    if (settings.schema?.properties?.hideClusterManager?.default === true) {
      await expect(page.locator('.dask-DaskClusterManager')).toBeHidden();
    }

    await pick(sidebar, 'profile:local');
    await fillFixedScaling(sidebar, 2, name);
    const card = await launch(sidebar, name);
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
    await runNewCell(
      page,
      'import dask.array as da\n' +
        'da.random.random((4000, 4000), chunks=(250, 250)).sum().compute()',
      /\d/
    );
    await expect
      .poll(() => frames, { message: 'task stream updates' })
      .toBeGreaterThan(before);
    await page.locator(PANE).first().click();
    await shot(page, '02-after-compute');

    // Stop: the panes close, nothing complains.
    await page.sidebar.openTab(SIDEBAR_ID);
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
