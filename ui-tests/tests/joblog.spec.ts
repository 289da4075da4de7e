/**
 * A batch job's output in the sidebar, on the SLURM test bed (testbeds/start-slurm.sh must run):
 * launch 1 worker, open its job's Log, read the dask worker's own start-up line in the job's
 * stderr, stop.
 */
import { expect, test } from '@jupyterlab/galata';
import { execSync } from 'child_process';
import {
  checkTestBed,
  fillFixedScaling,
  launch,
  pick,
  shot,
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

    const log = card.getByTestId('dcl-job-log');
    await test.step('Log on the worker job shows its stdout and stderr', async () => {
      const row = card.locator(`.dcl-JobRow[data-job-id="${jobId}"]`);
      await expect(row).toHaveCount(1);
      const opened = Date.now();
      await row.getByTestId('dcl-job-log-button').click();
      await expect(log).toBeVisible();
      await expect(log).toHaveAttribute('data-job-id', jobId);
      await expect(log.getByTestId('dcl-job-log-file')).not.toHaveCount(0);
      // The worker has connected, so its start-up line is written; Refresh in case the file
      // system showed it late.
      await expect(async () => {
        if (!(await log.locator('pre').first().isVisible())) {
          await log.getByTestId('dcl-job-log-refresh').click();
        }
        await expect(log.locator('pre')).toContainText([/Start worker/], {
          timeout: 2000
        });
      }).toPass({ timeout: 30000 });
      console.log(
        `SLURM: job log shown ${((Date.now() - opened) / 1000).toFixed(1)} s after Log`
      );
      await expect(log.getByTestId('dcl-job-log-file').first()).toContainText(
        jobId
      );
      await shot(page, 'joblog-01-log', log);
    });

    await test.step('Refresh and Close', async () => {
      await log.getByTestId('dcl-job-log-refresh').click();
      await expect(log.getByTestId('dcl-job-log-refresh')).toHaveText(
        'Refresh'
      );
      await expect(log.locator('pre')).toContainText([/Start worker/]);
      await log.getByTestId('dcl-job-log-close').click();
      await expect(log).toHaveCount(0);
    });

    await test.step('stop: the card goes', async () => {
      await stopFromCard(card);
      await shot(page, 'joblog-02-stopped');
    });
    expect(errors).toEqual([]);
  });
});
