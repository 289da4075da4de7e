/**
 * SLURM and Grid Engine golden paths on the real local test beds (testbeds/start-*.sh must run;
 * `make test` starts them). The same steps run for both systems, one after the other
 * (workers: 1 in playwright.config.js, tests are not fully parallel).
 */
import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { execSync } from 'child_process';
import {
  cardNamed,
  cardsOf,
  collectConsoleErrors,
  openGroup,
  openSidebar,
  pick,
  recordedStates,
  recordStates,
  shot,
  stopClustersNamed,
  stopFromCard,
  useFromNotebook
} from './helpers';

const SGE_ENV = {
  ...process.env,
  SGE_ROOT: process.env.SGE_ROOT ?? '/var/lib/gridengine',
  SGE_CELL: process.env.SGE_CELL ?? 'default'
};

interface IBatchSystem {
  backend: 'slurm' | 'sge';
  title: string;
  /** Name of the queue with the 30 min limit. */
  shortQueue: string;
  /** Header line naming the job, up to the cluster id. */
  jobNameDirective: RegExp;
  /** Extra form fields for a 1 GB worker. */
  fillMemory(sidebar: Locator): Promise<void>;
  /** Names of every job the batch system knows (pending, running, finishing). */
  jobNames(): string[];
  /** Command that starts the test bed. */
  start: string;
}

const SYSTEMS: IBatchSystem[] = [
  {
    backend: 'slurm',
    title: 'SLURM',
    shortQueue: 'short',
    jobNameDirective: /#SBATCH -J dcl-\S+/,
    start: 'testbeds/start-slurm.sh',
    async fillMemory(sidebar) {
      await sidebar.locator('#root_memory').fill('1 GB');
    },
    jobNames() {
      return execSync('squeue -h -o %j', { encoding: 'utf-8', timeout: 30000 })
        .split('\n')
        .map(s => s.trim())
        .filter(Boolean);
    }
  },
  {
    backend: 'sge',
    title: 'SGE',
    shortQueue: 'short.q',
    jobNameDirective: /#\$ -N dcl-\S+/,
    start: 'testbeds/start-sge.sh',
    async fillMemory(sidebar) {
      await sidebar.locator('#root_memory').fill('1 GB');
      // The resource request is one of the scheduling options (collapsed).
      await openGroup(sidebar, 'Scheduling');
      await sidebar.locator('#root_resource_spec').fill('h_vmem=1G');
    },
    jobNames() {
      const xml = execSync("qstat -xml -u '*'", {
        encoding: 'utf-8',
        env: SGE_ENV,
        timeout: 30000
      });
      return [...xml.matchAll(/<JB_name>([^<]*)<\/JB_name>/g)].map(m =>
        m[1].trim()
      );
    }
  }
];

/** Select the short queue; its option shows the site's 30 min limit. */
async function pickShortQueue(
  sidebar: Locator,
  system: IBatchSystem
): Promise<void> {
  const queue = sidebar.locator('#root_queue');
  const option = queue.locator('option', {
    hasText: new RegExp(`^${system.shortQueue.replace('.', '\\.')}\\b`)
  });
  await expect(option).toHaveCount(1);
  const label = (await option.textContent())!.trim();
  expect(label).toContain(system.shortQueue);
  expect(label).toContain('max 00:30:00');
  await queue.selectOption({ label });
}

for (const system of SYSTEMS) {
  test.describe(`${system.title} backend`, () => {
    const prefix = `ui-${system.backend}-`;

    test.beforeAll(() => {
      try {
        system.jobNames();
      } catch (e) {
        throw new Error(
          `The ${system.title} test bed does not answer (run ${system.start}): ${e}`
        );
      }
    });

    test.afterEach(async ({ page }) => {
      // A failed test must not leave its cluster (and batch jobs) to the next one.
      await stopClustersNamed(page, prefix);
    });

    // One JupyterLab page for the whole path (a page load costs 6-10 s on 2 cores): first the
    // refusal, then the same form corrected and launched.
    test('refuse a walltime over the queue limit; launch, use from a notebook, stop', async ({
      page
    }) => {
      const errors = collectConsoleErrors(page);
      const name = `${prefix}${Date.now()}`;
      const sidebar = await openSidebar(page);
      const walltime = sidebar.locator('#root_walltime');
      const error = sidebar.getByTestId('dcl-form-error');

      await test.step('the queue list comes from the site', async () => {
        await pick(sidebar, `backend:${system.backend}`);
        await pickShortQueue(sidebar, system);
        await system.fillMemory(sidebar);
      });

      await test.step('a walltime over the short queue limit is refused', async () => {
        const before = await cardsOf(sidebar, system.backend).count();
        // The limit shows beside the field; going over it is said as you type...
        await expect(sidebar.getByTestId('dcl-limit-walltime')).toHaveText(
          'max 00:30:00'
        );
        await walltime.fill('01:00:00');
        await expect(
          sidebar.locator('.dcl-Field[data-field="walltime"] .error-detail')
        ).toContainText('00:30:00');
        // ...and the server refuses it when sent anyway.
        await sidebar.getByTestId('dcl-name').fill(`${prefix}toolong`);
        await sidebar.getByTestId('dcl-launch').click();
        await expect(error).toBeVisible();
        await expect(error).toContainText('options.walltime');
        await expect(error).toContainText('00:30:00');
        await shot(page, `${system.backend}-00-walltime-too-long`, error);
        // Give a wrongly launched cluster time to show up before checking.
        await page.waitForTimeout(1000);
        await expect(cardsOf(sidebar, system.backend)).toHaveCount(before);
      });

      await test.step('a walltime within the limit clears the error', async () => {
        await walltime.fill('00:20:00');
        await expect(error).toHaveCount(0);
        await shot(page, `${system.backend}-01-form`, walltime);
      });

      await test.step('preview shows the job script', async () => {
        await sidebar.getByTestId('dcl-preview').click();
        const script = sidebar.getByTestId('dcl-preview-job-script');
        await expect(script).toContainText(system.jobNameDirective);
        await expect(script).toContainText('00:20:00');
        await shot(page, `${system.backend}-02-preview`, script);
      });

      await sidebar.getByTestId('dcl-scaling-fixed').check();
      await sidebar.getByTestId('dcl-workers').fill('2');
      await sidebar.getByTestId('dcl-name').fill(name);
      await recordStates(page, name);
      const launched = Date.now();
      await sidebar.getByTestId('dcl-launch').click();

      const card = cardNamed(sidebar, name);
      await expect(card).toHaveCount(1);
      const clusterId = await card.getAttribute('data-cluster-id');
      expect(clusterId).toBeTruthy();
      await card.getByTestId('dcl-expand').click();

      // The batch jobs show first (ids, PENDING/RUNNING), then the workers they run.
      const jobs = card.locator('.dcl-JobRow');
      let jobIds: (string | null)[] = [];
      await test.step('the card shows the batch jobs', async () => {
        await expect(jobs).toHaveCount(2, { timeout: 30000 });
        for (const row of await jobs.all()) {
          await expect(row.locator('td').nth(0)).toHaveText(/^\d+$/);
          await expect(row.locator('td').nth(1)).toHaveText(
            /PENDING|RUNNING|STARTING/
          );
        }
        await shot(page, `${system.backend}-03-jobs`, jobs.last());
        jobIds = await jobs.evaluateAll(rows =>
          rows.map(r => r.getAttribute('data-job-id'))
        );
      });

      await test.step('then 2 workers, each with its job id', async () => {
        await expect(card.locator('.dcl-state')).toHaveText('running', {
          timeout: 60000
        });
        const workers = card.locator('.dcl-WorkerRow');
        await expect(workers).toHaveCount(2, { timeout: 60000 });
        console.log(
          `${system.title}: 2 workers shown ${((Date.now() - launched) / 1000).toFixed(1)} s after Launch`
        );
        for (const row of await workers.all()) {
          const jobCell = row.locator('td').last();
          await expect(jobCell).toHaveText(/^\d+$/);
          expect(jobIds).toContain((await jobCell.textContent())!.trim());
        }
        await expect(card.getByTestId('dcl-totals')).toContainText('2 workers');
        const states = await recordedStates(page);
        expect(states[0]).toBe('starting');
        expect(states).not.toContain('failed');
        await shot(page, `${system.backend}-04-workers`, workers.last());
      });

      await test.step('use it from a notebook', async () => {
        await useFromNotebook(
          page,
          card,
          `${system.backend}.ipynb`,
          `${system.backend}-05-client-output`
        );
      });

      await test.step('stop: the card goes, and so do the jobs', async () => {
        await stopFromCard(card);
        await shot(page, `${system.backend}-06-stopped`);
        // Nothing is left in the batch system under the cluster's job name.
        const jobName = `dcl-${clusterId}`;
        await expect
          .poll(() => system.jobNames().filter(n => n === jobName), {
            timeout: 30000,
            intervals: [250, 500, 1000]
          })
          .toEqual([]);
      });
      // The refused launch above is the one failed request.
      expect(errors.filter(e => !e.includes('400 (Bad Request)'))).toEqual([]);
    });
  });
}
