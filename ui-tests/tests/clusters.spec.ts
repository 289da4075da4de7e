import { expect, test } from '@jupyterlab/galata';
import {
  cardsOf,
  expectRunning,
  expectStartedCleanly,
  fillFixedScaling,
  launch,
  openSidebar as openSidebarOn,
  pick,
  recordStates,
  shot,
  startGoldenPath,
  stopClustersAfterEach,
  insertClientCode,
  runClientCode,
  runNewCell,
  SIDEBAR_ID,
  stopFromCard
} from './helpers';

/** The Clusters sidebar with the default profile ("Local") preselected. */
const openSidebar = (page: Parameters<typeof openSidebarOn>[0]) =>
  openSidebarOn(page, 'profile:local');

test.describe('Clusters sidebar', () => {
  stopClustersAfterEach('golden-');

  test('launch a local cluster, use it from a notebook, stop it', async ({
    page
  }) => {
    const { errors, name, sidebar } = await startGoldenPath(
      page,
      'golden-',
      'profile:local'
    );
    await pick(sidebar, 'profile:local');
    await fillFixedScaling(sidebar, 2, name);
    await shot(page, '01-form');

    await recordStates(page, name);
    const card = await launch(sidebar, name);
    await expect(card.locator('.dcl-state')).toHaveText(/starting|running/);
    await shot(page, '02-starting');
    await expect(card.locator('.dcl-state')).toHaveText('running');
    const states = await expectStartedCleanly(page);
    expect(states).toContain('running');

    await card.getByTestId('dcl-expand').click();
    await expect(card.locator('.dcl-WorkerRow')).toHaveCount(2);
    await expect(card.getByTestId('dcl-totals')).toContainText('2 workers');
    await expect(card.getByTestId('dcl-dashboard')).toHaveAttribute(
      'href',
      /\/dask-cluster-launcher\/dashboard\/[0-9a-f]+\/status/
    );
    await shot(page, '03-running-workers');

    // Scaling shows the new worker live (cluster events, no polling): the
    // row appears right after the server's event announcing the worker (the
    // whole cluster first, then patches that upsert worker rows).
    await page.evaluate(() => {
      const w = window as any;
      w.__dclTimes = { events: [] as number[] };
      // a second subscriber of the launcher's event socket, beside the sidebar's
      const { wsUrl, token } = w.jupyterapp.serviceManager.serverSettings;
      const base = wsUrl.replace(/\/?$/, '/');
      const query = token ? `?token=${encodeURIComponent(token)}` : '';
      const events = new WebSocket(
        `${base}dask-cluster-launcher/events${query}`
      );
      events.onmessage = (message: MessageEvent) => {
        const e = JSON.parse(message.data);
        if (
          (e.changes?.workers?.upsert?.length ?? 0) > 0 ||
          (e.cluster?.workers?.length ?? 0) >= 3
        ) {
          w.__dclTimes.events.push(performance.now());
        }
      };
      new MutationObserver(() => {
        if (
          document.querySelectorAll('.dcl-WorkerRow').length >= 3 &&
          !w.__dclTimes.row
        ) {
          w.__dclTimes.row = performance.now();
        }
      }).observe(document.body, { subtree: true, childList: true });
      return new Promise(resolve => (events.onopen = resolve));
    });
    await card.getByTestId('dcl-scale-input').fill('3');
    await card.getByTestId('dcl-scale').click();
    await expect(card.locator('.dcl-WorkerRow')).toHaveCount(3);
    const times = await page.evaluate(() => (window as any).__dclTimes);
    // The event that brought the third row: the last one before it showed
    // (this socket's copy may come a moment after the sidebar's).
    const event = Math.max(
      ...times.events.filter((t: number) => t <= times.row + 100)
    );
    expect(event).toBeGreaterThan(0);
    console.log(`worker event -> row: ${(times.row - event).toFixed(1)} ms`);
    expect(times.row - event).toBeLessThan(1000);
    await expect(card.getByTestId('dcl-totals')).toContainText('3 workers');

    // Without a notebook, the user is told so.
    await card.getByTestId('dcl-insert').click();
    await expect(
      page.locator('.jp-Notification-Toast-warning, .Toastify__toast', {
        hasText: 'No notebook is open'
      })
    ).toBeVisible();
    await shot(page, '03b-no-notebook');

    await insertClientCode(page, card, 'cluster.ipynb');
    // One short call by the cluster's id: no address, no TLS file paths.
    const clusterId = await card.getAttribute('data-cluster-id');
    const inserted = (await page.notebook.getCellTextInput(1)) ?? '';
    expect(inserted).toContain('from dask_cluster_launcher import connect');
    expect(inserted).toContain(`client = connect('${clusterId}'`);
    expect(inserted.trim().split('\n').length).toBeLessThanOrEqual(4);
    expect(inserted).not.toMatch(/tls|\.pem|\.key|Security/i);
    await runClientCode(page);
    await runNewCell(page, 'client.submit(lambda x: x + 1, 41).result()', '42');
    await shot(page, '04-client-output');

    // Stop asks first: the cluster has workers (the same dialog as the menu's Stop…).
    await page.sidebar.openTab(SIDEBAR_ID);
    await card.getByTestId('dcl-stop').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(`Stop ${name}?`);
    await expect(dialog).toContainText('3 workers');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(card.locator('.dcl-state')).toHaveText('running');
    await stopFromCard(card);
    await shot(page, '05-stopped');
    expect(errors).toEqual([]);
  });

  test('the worker table sorts by a header and filters by text and state', async ({
    page
  }) => {
    const name = `golden-table-${Date.now()}`;
    const sidebar = await openSidebar(page);
    await pick(sidebar, 'profile:local');
    await fillFixedScaling(sidebar, 4, name);
    const card = await launch(sidebar, name);
    const rows = await expectRunning(card, 4);
    const names = () =>
      rows.evaluateAll(all => all.map(r => r.getAttribute('data-worker-name')));
    const sorted = ((await names()) as string[]).sort().reverse();

    // By name at first; a click on Name sorts descending, as aria-sort says.
    const nameHeader = card.locator('.dcl-WorkerTable th').first();
    await expect(nameHeader).toHaveAttribute('aria-sort', 'ascending');
    expect(await names()).toEqual([...sorted].reverse());
    await nameHeader.getByRole('button').click();
    await expect(nameHeader).toHaveAttribute('aria-sort', 'descending');
    expect(await names()).toEqual(sorted);
    await shot(page, 'table-sorted', card);

    // Text in a name; then a state no worker is in; then all again.
    await card.getByTestId('dcl-worker-filter').fill(sorted[0]);
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toHaveAttribute('data-worker-name', sorted[0]);
    await expect(card.getByTestId('dcl-worker-count')).toHaveText(
      /^1 of 4 workers/
    );
    await card.getByTestId('dcl-worker-filter').fill('');
    await card.getByTestId('dcl-worker-state-filter').selectOption('running');
    await expect(rows).toHaveCount(4);
    await card.getByTestId('dcl-worker-filter-clear').click();
    // The sort stayed through filtering and live updates.
    await expect(nameHeader).toHaveAttribute('aria-sort', 'descending');
    expect(await names()).toEqual(sorted);
  });

  test('a schema-violating option names the field and launches nothing', async ({
    page
  }) => {
    const sidebar = await openSidebar(page);
    await pick(sidebar, 'profile:local');
    const before = await cardsOf(sidebar, 'local').count();
    const threads = sidebar.locator('#root_threads_per_worker');
    await threads.fill('0');
    await sidebar.getByTestId('dcl-launch').click();
    const error = sidebar.getByTestId('dcl-form-error');
    await expect(error).toBeVisible();
    await expect(error).toContainText('options.threads_per_worker');
    // The form marks the field itself too.
    await expect(sidebar.getByTestId('dcl-options-form')).toContainText(
      'must be at least 1'
    );
    await shot(page, 'bad-value');
    // Give a wrongly launched cluster time to show up before checking.
    await page.waitForTimeout(1000);
    await expect(cardsOf(sidebar, 'local')).toHaveCount(before);
  });

  test('preview shows the code that reproduces the cluster', async ({
    page
  }) => {
    const sidebar = await openSidebar(page);
    await pick(sidebar, 'profile:local');
    await sidebar.getByTestId('dcl-preview').click();
    await expect(sidebar.getByTestId('dcl-preview-code')).toContainText(
      'LocalCluster('
    );
    await expect(sidebar.getByTestId('dcl-preview-job-script')).toHaveCount(0);
    await shot(page, 'preview');
  });
});
