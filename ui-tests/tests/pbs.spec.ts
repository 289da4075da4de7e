/**
 * PBS golden path on the PBS/Torque test bed: Debian's slurm-wlm-torque commands over the SLURM
 * test bed (testbeds/start-pbs.sh, which `make test` runs; the server finds them through
 * DCL_PBS_PATH, set in jupyter_server_test_config.py). Queues from `qstat -Q -f`, a job script
 * with #PBS directives, 2 workers that compute, a stop that leaves no job named dcl-<id>.
 */
import { expect, test } from '@jupyterlab/galata';
import { execSync } from 'child_process';
import {
  checkTestBed,
  expectBatchJobs,
  fillFixedScaling,
  launchExpanded,
  pick,
  shot,
  slurmJobNames,
  startGoldenPath,
  stopClustersAfterEach,
  stopWithJobs,
  useFromNotebook,
  waitForWorkers
} from './helpers';

const PBS_BIN = process.env.DCL_PBS_PATH ?? '/opt/dcl-pbs/bin';

/** Every job the PBS commands list (the test bed's qstat prints Torque's text). */
function pbsJobNames(): string[] {
  const out = execSync(`${PBS_BIN}/qstat -f || true`, {
    encoding: 'utf-8',
    timeout: 30000
  });
  return [...out.matchAll(/Job_Name = (\S+)[\s\S]*?job_state = (\S)/g)]
    .filter(m => m[2] !== 'C')
    .map(m => m[1]);
}

test.describe('PBS backend', () => {
  const prefix = 'ui-pbs-';

  test.beforeAll(() =>
    checkTestBed('PBS', 'testbeds/start-pbs.sh', () => {
      execSync(`${PBS_BIN}/qstat -Q -f`, { timeout: 30000 });
      return slurmJobNames();
    })
  );
  stopClustersAfterEach(prefix);

  test('launch from the sidebar, use from a notebook, stop', async ({
    page
  }) => {
    const { errors, name, sidebar } = await startGoldenPath(page, prefix);

    await test.step('the queues come from qstat -Q -f, with their limits', async () => {
      await pick(sidebar, 'backend:pbs');
      const queue = sidebar.locator('#root_queue');
      const option = queue.locator('option', { hasText: /^short\b/ });
      await expect(option).toHaveCount(1);
      await queue.selectOption({ label: (await option.textContent())!.trim() });
      await expect(sidebar.getByTestId('dcl-limit-queue')).toContainText(
        'max 00:30:00'
      );
      await sidebar.locator('#root_memory').fill('1 GB');
      await sidebar.locator('#root_walltime').fill('00:20:00');
    });

    await test.step('preview shows the #PBS job script', async () => {
      await sidebar.getByTestId('dcl-preview').click();
      const script = sidebar.getByTestId('dcl-preview-job-script');
      await expect(script).toContainText(/#PBS -N dcl-\S+/);
      await expect(script).toContainText('#PBS -l walltime=00:20:00');
      await shot(page, 'pbs-01-preview', script);
    });

    await fillFixedScaling(sidebar, 2, name);
    const { card, clusterId, launched } = await launchExpanded(
      page,
      sidebar,
      name
    );

    await test.step('the batch jobs, then 2 workers with their job ids', async () => {
      const jobIds = await expectBatchJobs(card, 2);
      const workers = await waitForWorkers(page, card, 2, 'PBS', launched);
      for (const row of await workers.all()) {
        const jobCell = row.locator('td').last();
        expect(jobIds).toContain((await jobCell.textContent())!.trim());
      }
      await shot(page, 'pbs-02-workers', workers.last());
    });

    await test.step('use it from a notebook', async () => {
      await useFromNotebook(page, card, 'pbs.ipynb', 'pbs-03-client-output');
    });

    await test.step('stop: the card goes, and so do the jobs', async () => {
      await stopWithJobs(card, clusterId, pbsJobNames, 30000);
    });
    expect(errors).toEqual([]);
  });
});
