/**
 * When a job as asked may start, and the worker lifetime that follows the walltime (issue 24,
 * items 2 and 4), in Chromium against the SLURM test bed: the launch summary shows what
 * `sbatch --test-only` answers, and with adaptive scaling the form's lifetime is the walltime
 * less the margin, as the preview's job script says.
 */
import { expect, test } from '@jupyterlab/galata';
import { openGroup, openSidebar, pick } from './helpers';

test.use({ viewport: { width: 1400, height: 900 } });

test('the SLURM form shows the start estimate and a lifetime that follows the walltime', async ({
  page
}) => {
  const sidebar = await openSidebar(page);
  await pick(sidebar, 'backend:slurm');
  await sidebar.locator('#root_memory').fill('1 GB');
  await sidebar.locator('#root_cores').fill('1');
  await sidebar.locator('#root_queue').selectOption({ label: 'debug' });
  await sidebar.locator('#root_walltime').fill('00:30:00');

  const estimate = sidebar.getByTestId('dcl-start-estimate');
  await expect(estimate).toHaveText(/^Job as asked: may start ~\d\d:\d\d$/);
  await expect(estimate).toHaveAttribute(
    'title',
    /to start at .* in partition debug/
  );
  console.log(
    `[measure] start estimate: ${await estimate.getAttribute('title')}`
  );

  await openGroup(sidebar, 'Scheduling');
  const lifetime = sidebar.locator('#root_lifetime');
  await expect(lifetime).toHaveValue('');
  await sidebar.getByTestId('dcl-scaling-adapt').check();
  await expect(lifetime).toHaveValue('25m');
  await expect(sidebar.locator('#root_lifetime_stagger')).toHaveValue('150s');
  await sidebar.getByTestId('dcl-preview').click();
  await expect(sidebar.getByTestId('dcl-preview-job-script')).toContainText(
    '--lifetime 25m --lifetime-stagger 150s'
  );
  // the user's own value stays when the walltime changes
  await lifetime.fill('20m');
  await sidebar.locator('#root_walltime').fill('01:00:00');
  await expect(lifetime).toHaveValue('20m');
});
