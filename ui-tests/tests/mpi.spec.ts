/**
 * MPI golden path on the real SLURM test bed (testbeds/start-slurm.sh must run; `make test`
 * starts it): one SLURM job runs dask-mpi, the scheduler on rank 0 and one worker on each other
 * rank. Fixed size: the number of workers is set at launch.
 */
import { expect, test } from '@jupyterlab/galata';
import {
  checkTestBed,
  expectBatchJobs,
  fillFixedScaling,
  launchExpanded,
  pick,
  runNewCell,
  shot,
  slurmJobNames,
  startGoldenPath,
  stopClustersAfterEach,
  stopWithJobs,
  useFromNotebook,
  waitForWorkers
} from './helpers';

const prefix = 'ui-mpi-';

test.describe('MPI backend', () => {
  test.beforeAll(() =>
    checkTestBed('SLURM', 'testbeds/start-slurm.sh', slurmJobNames)
  );
  stopClustersAfterEach(prefix);

  test('launch 2 workers in one job, use from a notebook, stop', async ({
    page
  }) => {
    const { errors, name, sidebar } = await startGoldenPath(page, prefix);

    await test.step('pick MPI and fill the form', async () => {
      await pick(sidebar, 'backend:mpi');
      await sidebar.locator('#root_memory').fill('1 GB');
      await sidebar.locator('#root_walltime').fill('00:20:00');
      // one job of a fixed size: no adaptive scaling is offered
      await fillFixedScaling(sidebar, 2, name, true);
      await shot(page, 'mpi-01-form', sidebar.getByTestId('dcl-workers'));
    });

    const { card, clusterId, launched } = await launchExpanded(
      page,
      sidebar,
      name
    );

    // ONE batch job for the scheduler and both workers.
    const jobs = card.locator('.dcl-JobRow');
    let jobId: string | null = null;
    await test.step('the card shows one batch job', async () => {
      [jobId] = await expectBatchJobs(card, 1);
      expect(jobId).toBeTruthy();
      await shot(page, 'mpi-02-job', jobs.first());
    });

    await test.step('then running with 2 workers, both in that job', async () => {
      const workers = await waitForWorkers(
        page,
        card,
        2,
        'MPI',
        launched,
        90000
      );
      for (const row of await workers.all()) {
        await expect(row.locator('td').last()).toHaveText(jobId!);
      }
      // Still one job once the workers run.
      await expect(jobs).toHaveCount(1);
      await shot(page, 'mpi-03-workers', workers.last());
    });

    await test.step('use it from a notebook', async () => {
      await useFromNotebook(page, card, 'mpi.ipynb');
      // Compute on both workers: each task runs on one of the MPI ranks.
      await runNewCell(
        page,
        'print(sum(client.gather(client.map(lambda x: x * 2, range(10)))), ' +
          'len(client.nthreads()))',
        '90 2'
      );
      await shot(page, 'mpi-04-computed');
    });

    await test.step('stop: the card goes, and so does the job', async () => {
      await stopWithJobs(card, clusterId, slurmJobNames, 60000);
      await shot(page, 'mpi-05-stopped');
    });

    expect(errors).toEqual([]);
  });
});
