/**
 * A cluster a notebook starts from Python (`quick_connect`, `make_cluster`) is in the sidebar
 * like one launched there: it shows up with its workers, and stopping it from its card stops
 * it for the notebook too.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import {
  API,
  collectConsoleErrors,
  openSidebar,
  SIDEBAR_ID,
  stopFromCard
} from './helpers';

/** The text of a cell's output once it contains `expected`. */
async function outputOf(
  page: IJupyterLabPageFixture,
  index: number,
  expected: string | RegExp
): Promise<string> {
  const output = page
    .locator('.jp-Notebook .jp-Cell')
    .nth(index)
    .locator('.jp-OutputArea-output');
  await expect(output.first()).toContainText(expected, { timeout: 90000 });
  return (await output.allInnerTexts()).join('\n');
}

/** Set cell `index` (adding it after the last one when needed) to `source` and run it. */
async function runCell(
  page: IJupyterLabPageFixture,
  index: number,
  source: string
): Promise<void> {
  if (index >= (await page.notebook.getCellCount())) {
    await page.notebook.addCell('code', source);
  } else {
    await page.notebook.setCell(index, 'code', source);
  }
  await page.notebook.runCell(index);
}

test.describe('Clusters started from Python', () => {
  test('quick_connect: in the sidebar within seconds, stopped from its card', async ({
    page
  }) => {
    const errors = collectConsoleErrors(page);
    await page.notebook.createNew('quick-connect.ipynb');
    await runCell(
      page,
      0,
      [
        'from dask_cluster_launcher import quick_connect',
        'client = quick_connect("local", 2, timeout=90)',
        'print("address", client.scheduler.address)'
      ].join('\n')
    );
    const printed = await outputOf(page, 0, /address tls:\/\//);
    const address = printed.match(/address (tls:\/\/\S+)/)![1];

    const sidebar = await openSidebar(page);
    // Found by its scheduler: other clusters named "local" may be in the sidebar too.
    let clusterId = '';
    await expect
      .poll(
        async () => {
          const response = await page.request.get(`/${API}/clusters`);
          const clusters: any[] = await response.json();
          clusterId =
            clusters.find(c => c.scheduler_address === address)?.id ?? '';
          return clusterId;
        },
        { timeout: 10000 }
      )
      .not.toBe('');
    const card = sidebar.locator(
      `.dcl-ClusterCard[data-cluster-id="${clusterId}"]`
    );
    await expect(card).toHaveCount(1);
    await expect(card.locator('.dcl-state')).toHaveText('running');
    await expect(card.getByTestId('dcl-totals')).toContainText('2 workers');

    // The notebook computes on it, then the card stops it.
    await runCell(page, 1, 'client.submit(lambda x: x + 1, 41).result()');
    await outputOf(page, 1, '42');
    await page.sidebar.openTab(SIDEBAR_ID);
    await stopFromCard(card);

    // The notebook's client is told: it stops being "running" (one-line statements: the
    // editor indents typed blocks by itself).
    await runCell(
      page,
      2,
      [
        'import time',
        'deadline = time.monotonic() + 30',
        'while client.status == "running" and time.monotonic() < deadline: time.sleep(0.1)',
        'print("still running" if client.status == "running" else "lost: " + client.status)'
      ].join('\n')
    );
    const outcome = await outputOf(page, 2, /lost|still running/);
    expect(outcome).toMatch(/lost: (connecting|closed)/);
    expect(errors).toEqual([]);
  });
});
