/**
 * A batch job's output, on the SLURM test bed (testbeds/start-slurm.sh must run): launch 1
 * worker, open its job's Log in a main-area tab, read the dask worker's own start-up line in the
 * job's stderr as the tab follows the file, stop.
 */
import { expect, test } from '@jupyterlab/galata';
import { execSync } from 'child_process';
import {
  checkTestBed,
  fillFixedScaling,
  launch,
  pick,
  shot,
  SIDEBAR_ID,
  startGoldenPath,
  stopClustersAfterEach,
  stopFromCard
} from './helpers';

const prefix = 'ui-joblog-';

test.describe('Batch job output', () => {
  test.beforeAll(() =>
    checkTestBed('SLURM', 'testbeds/start-slurm.sh', () =>
      execSync('sinfo -h', { encoding: 'utf-8', timeout: 30000 })
    )
  );
  stopClustersAfterEach(prefix);

  test('SLURM: the Log of a worker job shows the dask worker starting', async ({
    page
  }) => {
    const { errors, name, sidebar } = await startGoldenPath(page, prefix);

    await pick(sidebar, 'backend:slurm');
    await sidebar.locator('#root_walltime').fill('00:20:00');
    await sidebar.locator('#root_memory').fill('1 GB');
    await fillFixedScaling(sidebar, 1, name);
    const launched = Date.now();
    const card = await launch(sidebar, name);
    await card.getByTestId('dcl-expand').click();

    const worker = card.locator('.dcl-WorkerRow');
    await expect(worker).toHaveCount(1, { timeout: 60000 });
    const jobId = (await worker.locator('td').last().textContent())!.trim();
    expect(jobId).toMatch(/^\d+$/);
    console.log(
      `SLURM: worker of job ${jobId} shown ${((Date.now() - launched) / 1000).toFixed(1)} s after Launch`
    );

    // The job table fits the card: no sideways scroll, the Log buttons in view.
    const details = card.locator('.dcl-ClusterCard-details');
    const overflow = await details.evaluate(
      el => el.scrollWidth - el.clientWidth
    );
    expect(overflow).toBeLessThanOrEqual(0);
    const cardBox = (await card.boundingBox())!;
    for (const button of await card.getByTestId('dcl-job-log-button').all()) {
      const box = (await button.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(cardBox.x + cardBox.width);
    }

    // The log opens in the main area, like a file, titled with the job id.
    const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
      hasText: `Job ${jobId} log`
    });
    const log = page.locator('#jp-main-dock-panel [data-testid="dcl-job-log"]');
    await test.step('Log on the worker job opens its output in a tab', async () => {
      const row = card.locator(`.dcl-JobRow[data-job-id="${jobId}"]`);
      await expect(row).toHaveCount(1);
      const opened = Date.now();
      await row.getByTestId('dcl-job-log-button').click();
      await expect(tab).toHaveCount(1);
      await expect(log).toBeVisible();
      await expect(log).toHaveAttribute('data-job-id', jobId);
      await expect(card.getByTestId('dcl-job-log')).toHaveCount(0);
      await expect(log.getByTestId('dcl-job-log-file')).not.toHaveCount(0);
      // The worker has connected, so its start-up line is written; the tab follows the
      // files by itself (no Refresh needed).
      await expect(log.locator('pre')).toContainText([/Start worker/], {
        timeout: 30000
      });
      console.log(
        `SLURM: job log shown ${((Date.now() - opened) / 1000).toFixed(1)} s after Log`
      );
      await expect(log.getByTestId('dcl-job-log-file').first()).toContainText(
        jobId
      );
      // Wide: the main area, not the ~200 px card.
      const width = (await log.boundingBox())!.width;
      expect(width).toBeGreaterThan(500);
      await shot(page, 'joblog-01-log');
    });

    await test.step('Refresh; Log again shows the same tab; close it', async () => {
      await log.getByTestId('dcl-job-log-refresh').click();
      await expect(log.getByTestId('dcl-job-log-refresh')).toHaveText(
        'Refresh'
      );
      await expect(log.locator('pre')).toContainText([/Start worker/]);
      await page.sidebar.openTab(SIDEBAR_ID);
      await card
        .locator(`.dcl-JobRow[data-job-id="${jobId}"]`)
        .getByTestId('dcl-job-log-button')
        .click();
      await expect(tab).toHaveCount(1);
      await tab.locator('.lm-TabBar-tabCloseIcon').click();
      await expect(log).toHaveCount(0);
    });

    await test.step('stop: the card goes', async () => {
      await stopFromCard(card);
      await shot(page, 'joblog-02-stopped');
    });
    expect(errors).toEqual([]);
  });
});
