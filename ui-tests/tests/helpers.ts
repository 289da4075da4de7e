/**
 * Shared helpers of the Clusters sidebar UI tests (one JupyterLab server for all spec files,
 * see ../jupyter_server_test_config.py).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

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
  await page.notebook.createNew(notebook);
  await page.sidebar.openTab(SIDEBAR_ID);
  await card.getByTestId('dcl-insert').click();
  await expect
    .poll(async () => (await page.notebook.getCellTextInput(1)) ?? '')
    .toContain('Client(');
  await page.notebook.runCell(1);
  const output = page
    .locator('.jp-Notebook .jp-Cell')
    .nth(1)
    .locator('.jp-OutputArea-output');
  await expect(output.first()).toContainText('Client', { timeout: 60000 });
  await expect(output.first()).not.toContainText('Error');
  if (shotName) {
    await shot(page, shotName);
  }
}

/** Stop the cluster from its card and wait for the card to go. */
export async function stopFromCard(card: Locator): Promise<void> {
  await card.getByTestId('dcl-stop').click();
  await expect(card).toHaveCount(0, { timeout: 60000 });
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
