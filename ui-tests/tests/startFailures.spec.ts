/**
 * A newcomer's SLURM launch whose jobs crash at start (the workers' network interface does not
 * exist on the node): the card is `starting` (never `running` with 0 workers), then `failed`
 * within 60 s with the error line of the jobs' logs; the jobs stay on the card, ended, with
 * that line, the accounting's end reason and their Log buttons; the notification says why.
 * Needs the SLURM test bed (with accounting).
 */
import { expect, test } from '@jupyterlab/galata';
import {
  cardNamed,
  checkTestBed,
  fillFixedScaling,
  openGroup,
  pick,
  recordedStates,
  recordStates,
  shot,
  slurmJobNames,
  startGoldenPath,
  stopClustersAfterEach
} from './helpers';

const ERROR = "'nonexistent0' is not a valid network interface";

test.describe('SLURM jobs that crash at start', () => {
  const prefix = 'ui-crash-';
  test.beforeAll(() =>
    checkTestBed('SLURM', 'testbeds/start-slurm.sh', slurmJobNames)
  );
  stopClustersAfterEach(prefix);

  test('the card is starting, then failed with the ended jobs and their error; so says the notification', async ({
    page
  }) => {
    const { errors, name, sidebar } = await startGoldenPath(page, prefix);
    await pick(sidebar, 'backend:slurm');
    await sidebar.locator('#root_memory').fill('1 GB');
    await openGroup(sidebar, 'Advanced');
    await sidebar.locator('#root_interface').fill('nonexistent0');
    await fillFixedScaling(sidebar, 2, name);
    await recordStates(page, name);
    const launched = Date.now();
    await sidebar.getByTestId('dcl-launch').click();
    const card = cardNamed(sidebar, name);
    await expect(card).toHaveCount(1);
    await card.getByTestId('dcl-expand').click();

    const state = card.getByTestId('dcl-state');
    await expect(state).toHaveText('failed', { timeout: 60000 });
    const took = Date.now() - launched;
    console.log(
      `[measure] Launch -> failed card with the jobs' error: ${took} ms`
    );
    expect(took).toBeLessThan(60000);
    // never "running" without a worker
    expect(await recordedStates(page)).toEqual(['starting', 'failed']);
    await expect(card.getByTestId('dcl-cluster-error')).toContainText(ERROR);

    const rows = card.locator('.dcl-JobRow');
    await expect(rows).toHaveCount(2);
    for (const row of await rows.all()) {
      await expect(row).toHaveAttribute('data-job-state', /^(FAILED|ENDED)$/);
      await expect(row.getByTestId('dcl-job-error')).toContainText(
        `ValueError: ${ERROR}`
      );
      await expect(row.getByTestId('dcl-job-log-button')).toBeVisible();
      // why it ended, from the batch system's accounting (sacct)
      await expect(row.getByTestId('dcl-job-end')).toHaveText(
        'exited with code 1'
      );
    }
    await shot(page, 'crash-at-start-01-failed-card', card);

    const toast = page.locator('.Toastify__toast', { hasText: name });
    await expect(toast).toContainText(`Dask cluster ${name} failed to start`);
    await expect(toast).toContainText(ERROR);
    await expect(
      toast.getByRole('button', { name: 'Insert client code' })
    ).toHaveCount(0);
    await shot(page, 'crash-at-start-02-notification');
    expect(errors).toEqual([]);
  });
});
