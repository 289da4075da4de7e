/**
 * Shared helpers of the Clusters sidebar UI tests (one JupyterLab server for all spec files,
 * see ../jupyter_server_test_config.py).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { execSync } from 'child_process';

export const SIDEBAR_ID = 'dask-cluster-launcher-sidebar';
export const API = 'dask-cluster-launcher';

/**
 * Open the Clusters sidebar and wait until the catalog is loaded (something is picked).
 * `expected` is the preselected value, e.g. 'profile:local'; by default any selection.
 */
export async function openSidebar(
  page: IJupyterLabPageFixture,
  expected: string | RegExp = /^(profile|backend):/
): Promise<Locator> {
  // The plugin adds its tab after loading its settings, possibly after the page is "ready".
  await expect(page.sidebar.getTabLocator(SIDEBAR_ID)).toHaveCount(1);
  await page.sidebar.openTab(SIDEBAR_ID);
  const sidebar = page.locator(`#${SIDEBAR_ID}`);
  await expect(sidebar).toBeVisible();
  await expect(sidebar.getByTestId('dcl-picker')).toHaveAttribute(
    'data-selection',
    expected
  );
  return sidebar;
}

/** The radio button of a choice (`profile:local`, `backend:slurm`). */
export function choice(sidebar: Locator, selection: string): Locator {
  return sidebar.getByTestId(`dcl-choice-${selection.replace(':', '-')}`);
}

/** Pick a profile or backend with one click (a profile shows its Launch, a backend its form). */
export async function choose(
  sidebar: Locator,
  selection: string
): Promise<void> {
  await choice(sidebar, selection).check();
  await expect(sidebar.getByTestId('dcl-picker')).toHaveAttribute(
    'data-selection',
    selection
  );
}

/**
 * Pick a profile or backend (`backend:slurm`, `profile:local`) and wait for its form (a
 * profile's options open with "Edit options").
 */
export async function pick(sidebar: Locator, selection: string): Promise<void> {
  await choose(sidebar, selection);
  const edit = sidebar.getByTestId('dcl-edit-options');
  if (selection.startsWith('profile:') && (await edit.count()) > 0) {
    await edit.click();
  }
  await expect(sidebar.getByTestId('dcl-options-form')).toBeVisible();
}

/** Open a collapsed group of the options form ("Scheduling", "Environment", "Advanced"). */
export async function openGroup(
  sidebar: Locator,
  title: string
): Promise<void> {
  const group = sidebar.getByTestId(`dcl-group-${title.toLowerCase()}`);
  if ((await group.getAttribute('open')) === null) {
    await group.locator('summary').click();
  }
  await expect(group).toHaveAttribute('open', '');
}

/**
 * Reload the page once what the sidebar remembers is saved: it goes to JupyterLab's state
 * database (debounced 0.3 s), which JupyterLab saves with the workspace (debounced 0.75 s).
 */
export async function reloadRemembering(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.waitForTimeout(2000);
  await page.reload();
}

/**
 * Collect the page's console errors (and uncaught exceptions) from now on; the golden paths
 * end with `expect(errors).toEqual([])`.
 */
export function collectConsoleErrors(page: IJupyterLabPageFixture): string[] {
  const errors: string[] = [];
  page.on('console', message => {
    if (message.type() === 'error') {
      errors.push(`${message.text()} (${message.location().url})`);
    }
  });
  page.on('pageerror', error => errors.push(`uncaught: ${error.message}`));
  return errors;
}

/**
 * Screenshot into this test's output folder (test-results/<test>/<name>.png), after scrolling
 * `focus` (e.g. a card's worker table) into view.
 */
export async function shot(
  page: IJupyterLabPageFixture,
  name: string,
  focus?: Locator
): Promise<void> {
  if (focus) {
    await focus.scrollIntoViewIfNeeded();
  }
  await page.screenshot({ path: test.info().outputPath(`${name}.png`) });
}

/** The card of the cluster launched with this name. */
export function cardNamed(sidebar: Locator, name: string): Locator {
  return sidebar.locator(`.dcl-ClusterCard[data-cluster-name="${name}"]`);
}

/**
 * The cards of one backend's clusters (other sessions' clusters may show up too: the server
 * adopts every cluster of this user it finds).
 */
export function cardsOf(sidebar: Locator, backend: string): Locator {
  return sidebar.locator('.dcl-ClusterCard').filter({
    has: sidebar.page().locator('.dcl-ClusterCard-meta', {
      hasText: new RegExp(`^${backend}\\b`)
    })
  });
}

/**
 * Record every state the card of the cluster named `name` shows (every card without a name), so
 * short-lived ones are seen too. Name it: other sessions' clusters may show up in the sidebar.
 */
export async function recordStates(
  page: IJupyterLabPageFixture,
  name?: string
): Promise<void> {
  await page.evaluate(clusterName => {
    const seen: string[] = [];
    (window as any).__dclStates = seen;
    const card = clusterName
      ? `.dcl-ClusterCard[data-cluster-name="${CSS.escape(clusterName)}"]`
      : '.dcl-ClusterCard';
    const selector = `${card} .dcl-state`;
    const record = () => {
      document.querySelectorAll(selector).forEach(el => {
        const state = el.textContent ?? '';
        if (seen[seen.length - 1] !== state) {
          seen.push(state);
        }
      });
    };
    new MutationObserver(record).observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true
    });
  }, name ?? '');
}

export async function recordedStates(
  page: IJupyterLabPageFixture
): Promise<string[]> {
  return page.evaluate(() => (window as any).__dclStates);
}

/** The output area of the notebook's cell `index` (0 is the first cell). */
export function cellOutput(
  page: IJupyterLabPageFixture,
  index: number
): Locator {
  return page
    .locator('.jp-Notebook .jp-Cell')
    .nth(index)
    .locator('.jp-OutputArea-output');
}

/**
 * Create a notebook and insert the card's client code below the active cell; wait until that
 * cell (cell 1) contains `code`. Leaves the Clusters sidebar open.
 */
export async function insertClientCode(
  page: IJupyterLabPageFixture,
  card: Locator,
  notebook: string,
  code = 'client = '
): Promise<void> {
  await page.notebook.createNew(notebook);
  await page.sidebar.openTab(SIDEBAR_ID);
  await card.getByTestId('dcl-insert').click();
  await expect
    .poll(async () => (await page.notebook.getCellTextInput(1)) ?? '')
    .toContain(code);
}

/** Run the inserted client code (cell 1) and wait for the Client repr, without an error. */
export async function runClientCode(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.notebook.runCell(1);
  const output = cellOutput(page, 1);
  await expect(output.first()).toContainText('Client', { timeout: 60000 });
  await expect(output.first()).not.toContainText('Error');
}

/**
 * Create a notebook, insert the card's client code below the active cell, run it and wait for
 * the Client repr. Leaves the Clusters sidebar open.
 */
export async function useFromNotebook(
  page: IJupyterLabPageFixture,
  card: Locator,
  notebook: string,
  shotName?: string
): Promise<void> {
  await insertClientCode(page, card, notebook);
  await runClientCode(page);
  if (shotName) {
    await shot(page, shotName);
  }
}

/** Add a code cell at the end of the notebook, run it and wait for `output`; its output area. */
export async function runNewCell(
  page: IJupyterLabPageFixture,
  source: string,
  output: string | RegExp
): Promise<Locator> {
  await page.notebook.addCell('code', source);
  const index = (await page.notebook.getCellCount()) - 1;
  await page.notebook.runCell(index);
  const area = cellOutput(page, index);
  await expect(area).toContainText(output, { timeout: 60000 });
  return area;
}

/**
 * Stop the cluster from its card (confirming, when it has workers or jobs, in
 * the dialog Stop opens) and wait for the card to go.
 */
export async function stopFromCard(card: Locator): Promise<void> {
  await card.getByTestId('dcl-stop').click();
  const page = card.page();
  const confirm = page.locator('.jp-Dialog .jp-mod-warn');
  await expect(async () => {
    if (await confirm.isVisible()) {
      await confirm.click();
    }
    await expect(card).toHaveCount(0, { timeout: 1000 });
  }).toPass({ timeout: 60000 });
}

/**
 * Stop, through the REST API, every cluster whose name starts with `prefix` (cleanup after a
 * failed test, so the next test does not see its cards or its batch jobs).
 */
export async function stopClustersNamed(
  page: IJupyterLabPageFixture,
  prefix: string
): Promise<void> {
  const response = await page.request.get(`/${API}/clusters`);
  if (!response.ok()) {
    return;
  }
  const body = await response.json();
  const clusters: any[] = Array.isArray(body) ? body : (body.clusters ?? []);
  for (const cluster of clusters) {
    if (String(cluster.name ?? '').startsWith(prefix)) {
      await page.request.delete(`/${API}/clusters/${cluster.id}`);
    }
  }
}

/** After each test of the enclosing `describe`, stop the clusters it may have left (`prefix`). */
export function stopClustersAfterEach(prefix: string): void {
  test.afterEach(async ({ page }) => {
    // A failed test must not leave its cluster (and batch jobs) to the next one.
    await stopClustersNamed(page, prefix);
  });
}

/**
 * A golden path's start: collect the console errors, name its cluster `<prefix><now>` and open
 * the Clusters sidebar (`expected` as in openSidebar).
 */
export async function startGoldenPath(
  page: IJupyterLabPageFixture,
  prefix: string,
  expected?: string | RegExp
): Promise<{ errors: string[]; name: string; sidebar: Locator }> {
  const errors = collectConsoleErrors(page);
  const name = `${prefix}${Date.now()}`;
  const sidebar = await openSidebar(page, expected);
  return { errors, name, sidebar };
}

/**
 * Fixed scaling with `workers` workers in the launch form, and the cluster's
 * name if given. `fixedOnly`: the form offers no other scaling (MPI, one
 * allocation) and says so.
 */
export async function fillFixedScaling(
  sidebar: Locator,
  workers: number,
  name?: string,
  fixedOnly = false
): Promise<void> {
  if (fixedOnly) {
    await expect(sidebar.getByTestId('dcl-scaling-fixed-only')).toHaveText(
      'Fixed size'
    );
    await expect(sidebar.getByTestId('dcl-scaling-adapt')).toHaveCount(0);
  } else {
    await sidebar.getByTestId('dcl-scaling-fixed').check();
  }
  await sidebar.getByTestId('dcl-workers').fill(String(workers));
  if (name !== undefined) {
    await sidebar.getByTestId('dcl-name').fill(name);
  }
}

/** Click Launch and return the card of the cluster named `name` once it shows. */
export async function launch(sidebar: Locator, name: string): Promise<Locator> {
  await sidebar.getByTestId('dcl-launch').click();
  const card = cardNamed(sidebar, name);
  await expect(card).toHaveCount(1);
  return card;
}

/**
 * Record the states of the card named `name`, click Launch and expand the card (a batch
 * cluster shows its jobs before its workers). Returns the card, its cluster id (the batch jobs
 * are named `dcl-<id>`) and when Launch was clicked.
 */
export async function launchExpanded(
  page: IJupyterLabPageFixture,
  sidebar: Locator,
  name: string
): Promise<{ card: Locator; clusterId: string; launched: number }> {
  await recordStates(page, name);
  const launched = Date.now();
  const card = await launch(sidebar, name);
  const clusterId = await card.getAttribute('data-cluster-id');
  expect(clusterId).toBeTruthy();
  await card.getByTestId('dcl-expand').click();
  return { card, clusterId: clusterId!, launched };
}

/** Wait until the card says running, expand it and wait for its `workers` worker rows. */
export async function expectRunning(
  card: Locator,
  workers: number,
  timeout = 60000
): Promise<Locator> {
  await expect(card.locator('.dcl-state')).toHaveText('running', { timeout });
  await card.getByTestId('dcl-expand').click();
  const rows = card.locator('.dcl-WorkerRow');
  await expect(rows).toHaveCount(workers, { timeout: 30000 });
  return rows;
}

/**
 * Launch `count` fixed workers as the cluster `name`, recording its card's states; wait until
 * it runs with them (expanded), having started without failing. Returns the card and its
 * worker rows.
 */
export async function launchRunning(
  page: IJupyterLabPageFixture,
  sidebar: Locator,
  name: string,
  count: number
): Promise<{ card: Locator; workers: Locator }> {
  await fillFixedScaling(sidebar, count, name);
  await recordStates(page, name);
  const card = await launch(sidebar, name);
  const workers = await expectRunning(card, count);
  await expectStartedCleanly(page);
  return { card, workers };
}

/** The states recorded by recordStates: the card started as "starting" and never failed. */
export async function expectStartedCleanly(
  page: IJupyterLabPageFixture
): Promise<string[]> {
  const states = await recordedStates(page);
  expect(states[0]).toBe('starting');
  expect(states).not.toContain('failed');
  return states;
}

/** Names of every job SLURM knows (pending, running, finishing). */
export function slurmJobNames(): string[] {
  return execSync('squeue -h -o %j', { encoding: 'utf-8', timeout: 30000 })
    .split('\n')
    .map(s => s.trim())
    .filter(Boolean);
}

/** Fail at once, saying how to start it, when a batch test bed does not answer `probe`. */
export function checkTestBed(
  title: string,
  start: string,
  probe: () => unknown
): void {
  try {
    probe();
  } catch (e) {
    throw new Error(
      `The ${title} test bed does not answer (run ${start}): ${e}`
    );
  }
}

/**
 * The batch jobs of an expanded card: `count` rows, each with a job id and a queue state.
 * Returns their job ids.
 */
export async function expectBatchJobs(
  card: Locator,
  count: number
): Promise<(string | null)[]> {
  const jobs = card.locator('.dcl-JobRow');
  await expect(jobs).toHaveCount(count, { timeout: 30000 });
  for (const row of await jobs.all()) {
    await expect(row.locator('td').nth(0)).toHaveText(/^\d+$/);
    await expect(row.locator('td').nth(1)).toHaveText(
      /PENDING|RUNNING|STARTING/
    );
  }
  return jobs.evaluateAll(rows => rows.map(r => r.getAttribute('data-job-id')));
}

/**
 * Wait until the (expanded) card of a cluster launched with launchExpanded says running with
 * `count` worker rows, logging how long that took after Launch; its totals count them, and it
 * started without failing. Returns the worker rows.
 */
export async function waitForWorkers(
  page: IJupyterLabPageFixture,
  card: Locator,
  count: number,
  label: string,
  launched: number,
  timeout = 60000
): Promise<Locator> {
  await expect(card.locator('.dcl-state')).toHaveText('running', { timeout });
  const workers = card.locator('.dcl-WorkerRow');
  await expect(workers).toHaveCount(count, { timeout: 60000 });
  console.log(
    `${label}: ${count} workers shown ${((Date.now() - launched) / 1000).toFixed(1)} s after Launch`
  );
  await expect(card.getByTestId('dcl-totals')).toContainText(
    `${count} workers`
  );
  await expectStartedCleanly(page);
  return workers;
}

/** Stop the cluster from its card; then no job named after it is left in the batch system. */
export async function stopWithJobs(
  card: Locator,
  clusterId: string,
  jobNames: () => string[],
  timeout: number
): Promise<void> {
  await stopFromCard(card);
  const jobName = `dcl-${clusterId}`;
  await expect
    .poll(() => jobNames().filter(n => n === jobName), {
      timeout,
      intervals: [250, 500, 1000]
    })
    .toEqual([]);
}
