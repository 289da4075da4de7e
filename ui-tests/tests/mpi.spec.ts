/**
 * MPI golden path on the real SLURM test bed (testbeds/start-slurm.sh must run; `make test`
 * starts it): one SLURM job runs dask-mpi, the scheduler on rank 0 and one worker on each other
 * rank. Fixed size: the number of workers is set at launch.
 */
import { expect, test } from '@jupyterlab/galata';
import { execSync } from 'child_process';
import {
  cardNamed,
  collectConsoleErrors,
  openSidebar,
  pick,
  recordedStates,
  recordStates,
  shot,
  stopClustersNamed,
  stopFromCard,
  useFromNotebook
} from './helpers';

const prefix = 'ui-mpi-';

/** Names of every job SLURM knows (pending, running, finishing). */
function jobNames(): string[] {
  return execSync('squeue -h -o %j', { encoding: 'utf-8', timeout: 30000 })
    .split('\n')
    .map(s => s.trim())
    .filter(Boolean);
}

test.describe('MPI backend', () => {
  test.beforeAll(() => {
    try {
      jobNames();
    } catch (e) {
      throw new Error(
        `The SLURM test bed does not answer (run testbeds/start-slurm.sh): ${e}`
      );
    }
  });

  test.afterEach(async ({ page }) => {
    // A failed test must not leave its cluster (and batch job) to the next one.
    await stopClustersNamed(page, prefix);
  });

  test('launch 2 workers in one job, use from a notebook, stop', async ({
    page
  }) => {
    const errors = collectConsoleErrors(page);
    const name = `${prefix}${Date.now()}`;
    const sidebar = await openSidebar(page);

    await test.step('pick MPI and fill the form', async () => {
      await pick(sidebar, 'backend:mpi');
      await sidebar.locator('#root_memory').fill('1 GB');
      await sidebar.locator('#root_walltime').fill('00:20:00');
      await sidebar.getByTestId('dcl-scaling-fixed').check();
      await sidebar.getByTestId('dcl-workers').fill('2');
      await sidebar.getByTestId('dcl-name').fill(name);
      await shot(page, 'mpi-01-form', sidebar.getByTestId('dcl-workers'));
    });

    await recordStates(page, name);
    const launched = Date.now();
    await sidebar.getByTestId('dcl-launch').click();

    const card = cardNamed(sidebar, name);
    await expect(card).toHaveCount(1);
    const clusterId = await card.getAttribute('data-cluster-id');
    expect(clusterId).toBeTruthy();
    await card.getByTestId('dcl-expand').click();

    // ONE batch job for the scheduler and both workers.
    const jobs = card.locator('.dcl-JobRow');
    let jobId: string | null = null;
    await test.step('the card shows one batch job', async () => {
      await expect(jobs).toHaveCount(1, { timeout: 30000 });
      await expect(jobs.first().locator('td').nth(0)).toHaveText(/^\d+$/);
      await expect(jobs.first().locator('td').nth(1)).toHaveText(
        /PENDING|RUNNING|STARTING/
      );
      jobId = await jobs.first().getAttribute('data-job-id');
      expect(jobId).toBeTruthy();
      await shot(page, 'mpi-02-job', jobs.first());
    });

    await test.step('then running with 2 workers, both in that job', async () => {
      await expect(card.locator('.dcl-state')).toHaveText('running', {
        timeout: 90000
      });
      const workers = card.locator('.dcl-WorkerRow');
      await expect(workers).toHaveCount(2, { timeout: 60000 });
      console.log(
        `MPI: 2 workers shown ${((Date.now() - launched) / 1000).toFixed(1)} s after Launch`
      );
      for (const row of await workers.all()) {
        await expect(row.locator('td').last()).toHaveText(jobId!);
      }
      await expect(card.getByTestId('dcl-totals')).toContainText('2 workers');
      // Still one job once the workers run.
      await expect(jobs).toHaveCount(1);
      const states = await recordedStates(page);
      expect(states[0]).toBe('starting');
      expect(states).not.toContain('failed');
      await shot(page, 'mpi-03-workers', workers.last());
    });

    await test.step('use it from a notebook', async () => {
      await useFromNotebook(page, card, 'mpi.ipynb');
      // Compute on both workers: each task runs on one of the MPI ranks.
      await page.notebook.addCell(
        'code',
        'print(sum(client.gather(client.map(lambda x: x * 2, range(10)))), ' +
          'len(client.nthreads()))'
      );
      const last = (await page.notebook.getCellCount()) - 1;
      await page.notebook.runCell(last);
      const output = page
        .locator('.jp-Notebook .jp-Cell')
        .nth(last)
        .locator('.jp-OutputArea-output');
      await expect(output.first()).toContainText('90 2', { timeout: 60000 });
      await shot(page, 'mpi-04-computed');
    });

    await test.step('stop: the card goes, and so does the job', async () => {
      await stopFromCard(card);
      await shot(page, 'mpi-05-stopped');
      const jobName = `dcl-${clusterId}`;
      await expect
        .poll(() => jobNames().filter(n => n === jobName), {
          timeout: 60000,
          intervals: [250, 500, 1000]
        })
        .toEqual([]);
    });

    expect(errors).toEqual([]);
  });
});
