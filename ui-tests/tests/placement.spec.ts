/**
 * The scheduler in a batch job of its own, on the SLURM test bed: chosen in the form's
 * Scheduler group, said on the card (job id and time left), and gone with the workers' jobs
 * when the cluster stops.
 */
import { expect, test } from '@jupyterlab/galata';
import {
  checkTestBed,
  fillFixedScaling,
  launchExpanded,
  openGroup,
  pick,
  shot,
  slurmJobNames,
  startGoldenPath,
  stopClustersAfterEach,
  stopWithJobs
} from './helpers';

const PREFIX = 'ui-placement-';

test.beforeAll(() =>
  checkTestBed('SLURM', 'testbeds/start-slurm.sh', slurmJobNames)
);
stopClustersAfterEach(PREFIX);

test('the scheduler in its own batch job: chosen, shown on the card, stopped with its jobs', async ({
  page
}) => {
  const { errors, name, sidebar } = await startGoldenPath(page, PREFIX);
  await pick(sidebar, 'backend:slurm');
  await sidebar.locator('#root_memory').fill('1 GB');

  await test.step('the form says where the scheduler runs', async () => {
    await openGroup(sidebar, 'Scheduler');
    const placement = sidebar.locator('#root_scheduler_placement');
    await expect(placement.locator('option:checked')).toHaveText(
      'Beside Jupyter'
    );
    await placement.selectOption({ label: 'In its own batch job' });
    await sidebar.locator('#root_scheduler_memory').fill('1 GB');
    await shot(page, 'placement-00-form', placement);
  });

  await test.step("the preview shows the scheduler's job script", async () => {
    await sidebar.getByTestId('dcl-preview').click();
    const script = sidebar.getByTestId('dcl-preview-scheduler-job-script');
    await expect(script).toContainText(/#SBATCH -J dcl-\S+/);
    await expect(script).toContainText('-m dask_cluster_launcher.run_host');
  });

  await fillFixedScaling(sidebar, 1, name);
  const { card, clusterId, launched } = await launchExpanded(
    page,
    sidebar,
    name
  );

  await test.step('the card names the scheduler job and its time left', async () => {
    const line = card.getByTestId('dcl-scheduler-job');
    await expect(line).toHaveText(/^Scheduler in batch job \d+/, {
      timeout: 30000
    });
    await expect(card.getByTestId('dcl-totals')).toContainText('1 worker', {
      timeout: 60000
    });
    console.log(`1 worker ${(Date.now() - launched) / 1000} s after Launch`);
    await expect(line).toHaveText(/^Scheduler in batch job \d+ · \d+m left$/);
    await shot(page, 'placement-01-card', line);
  });

  await test.step('stop: no job named after the cluster is left', async () => {
    await stopWithJobs(card, clusterId, slurmJobNames, 30000);
  });
  expect(errors).toEqual([]);
});
