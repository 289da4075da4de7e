/**
 * Saturn Cloud golden path against the local Saturn emulator (real Dask behind Saturn's API),
 * which jupyter_server_test_config.py starts inside the test server's process (internal mode,
 * plain tcp://).
 */
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  launchRunning,
  pick,
  shot,
  startGoldenPath,
  stopClustersAfterEach,
  stopFromCard,
  useFromNotebook
} from './helpers';

const PREFIX = 'ui-saturn-';

/** Clusters the emulator runs (see jupyter_server_test_config.py for the info file). */
async function emulatorClusters(): Promise<any[]> {
  const infoPath =
    process.env.DCL_UI_SATURN_INFO ??
    path.join(os.tmpdir(), 'dcl-ui-tests-saturn.json');
  const { url, token } = JSON.parse(fs.readFileSync(infoPath, 'utf-8'));
  const response = await fetch(`${url}_emulator/clusters`, {
    headers: { Authorization: `token ${token}` }
  });
  expect(response.ok).toBe(true);
  const body = await response.json();
  return Array.isArray(body) ? body : body.clusters;
}

test.describe('Saturn backend', () => {
  stopClustersAfterEach(PREFIX);

  test('launch on the emulator, use it from a notebook, stop it', async ({
    page
  }) => {
    const { errors, name, sidebar } = await startGoldenPath(page, PREFIX);
    await pick(sidebar, 'backend:saturn');

    // The worker sizes come from Saturn (the emulator), with their descriptions.
    const size = sidebar.locator('#root_worker_size');
    await expect(size.locator('option')).not.toHaveCount(0);
    const medium = size.locator('option', {
      hasText: 'Medium - 2 cores - 4 GB RAM'
    });
    await expect(medium).toHaveCount(1);
    await expect(size.locator('option', { hasText: 'XLarge' })).not.toHaveCount(
      0
    );
    await size.selectOption({ label: (await medium.textContent())!.trim() });
    await shot(page, 'saturn-01-form');

    const { card, workers } = await launchRunning(page, sidebar, name, 1);
    await expect(card.getByTestId('dcl-totals')).toContainText('1 worker');
    // The medium size: 2 threads, 4 GB.
    await expect(card.getByTestId('dcl-totals')).toContainText('2 threads');
    await expect(card.getByTestId('dcl-totals')).toContainText('4.0 GiB');
    await shot(page, 'saturn-02-running', workers);

    // Saturn (the emulator) runs exactly this cluster: medium workers, 1 of them.
    const live = await emulatorClusters();
    expect(live).toHaveLength(1);
    expect(live[0].status).toBe('ready');
    expect(live[0].config.worker_size).toBe('medium');
    expect(live[0].workers).toBe(1);
    await expect(card).toContainText(live[0].scheduler_address);

    await useFromNotebook(
      page,
      card,
      'saturn.ipynb',
      'saturn-03-client-output'
    );

    await stopFromCard(card);
    await shot(page, 'saturn-04-stopped');
    // Stopping closed it on Saturn too.
    await expect.poll(emulatorClusters, { timeout: 30000 }).toEqual([]);
    expect(errors).toEqual([]);
  });
});
