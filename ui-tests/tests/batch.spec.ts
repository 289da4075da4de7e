/**
 * SLURM and Grid Engine golden paths on the real local test beds (testbeds/start-*.sh must run;
 * `make test` starts them). The same steps run for both systems, one after the other
 * (workers: 1 in playwright.config.js, tests are not fully parallel).
 */
import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { execSync } from 'child_process';
import {
  cardsOf,
  checkTestBed,
  expectBatchJobs,
  fillFixedScaling,
  launchExpanded,
  openGroup,
  pick,
  shot,
  slurmJobNames,
  startGoldenPath,
  stopClustersAfterEach,
  stopWithJobs,
  useFromNotebook,
  waitForWorkers
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
    jobNames: slurmJobNames
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

/** Select the short queue; its limits (the site's 30 min) show under it. */
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
  await queue.selectOption({ label });
  await expect(sidebar.getByTestId('dcl-limit-queue')).toContainText(
    'max 00:30:00'
  );
}

for (const system of SYSTEMS) {
  test.describe(`${system.title} backend`, () => {
    const prefix = `ui-${system.backend}-`;

    test.beforeAll(() =>
      checkTestBed(system.title, system.start, () => system.jobNames())
    );
    stopClustersAfterEach(prefix);

    // One JupyterLab page for the whole path (a page load costs 6-10 s on 2 cores): first the
    // refusal, then the same form corrected and launched.
    test('refuse a walltime over the queue limit; launch, use from a notebook, stop', async ({
      page
    }) => {
      const { errors, name, sidebar } = await startGoldenPath(page, prefix);
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

      await fillFixedScaling(sidebar, 2, name);
      const { card, clusterId, launched } = await launchExpanded(
        page,
        sidebar,
        name
      );

      // The batch jobs show first (ids, PENDING/RUNNING), then the workers they run.
      let jobIds: (string | null)[] = [];
      await test.step('the card shows the batch jobs', async () => {
        jobIds = await expectBatchJobs(card, 2);
        await shot(
          page,
          `${system.backend}-03-jobs`,
          card.locator('.dcl-JobRow').last()
        );
      });

      await test.step('then 2 workers, each with its job id', async () => {
        const workers = await waitForWorkers(
          page,
          card,
          2,
          system.title,
          launched
        );
        for (const row of await workers.all()) {
          const jobCell = row.locator('td').last();
          await expect(jobCell).toHaveText(/^\d+$/);
          expect(jobIds).toContain((await jobCell.textContent())!.trim());
        }
        await shot(page, `${system.backend}-04-workers`, workers.last());
      });

      await test.step('the card says what its jobs used so far', async () => {
        // 2 jobs x 1 core, live from the jobs' start times; at most 2 x 20 min
        await expect(card.getByTestId('dcl-usage')).toHaveText(
          /^ · \d+\.\d\d core-hours$/,
          { timeout: 15000 }
        );
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
        // Nothing is left in the batch system under the cluster's job name.
        await stopWithJobs(card, clusterId, () => system.jobNames(), 30000);
        await shot(page, `${system.backend}-06-stopped`);
      });

      await test.step('a notification says what it used, as the accounting does', async () => {
        const toast = page.locator('.Toastify__toast', {
          hasText: `Dask cluster ${name} stopped`
        });
        // the accounting's number (no "about") of the most the launch summary said
        await expect(toast).toContainText(
          /used \d+\.\d\d of at most \d+\.\d\d core-hours/
        );
        await shot(page, `${system.backend}-07-usage-notification`, toast);
      });
      // The refused launch above is the one failed request.
      expect(errors.filter(e => !e.includes('400 (Bad Request)'))).toEqual([]);
    });
  });
}
