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
  await expect(sidebar.getByTestId('dcl-picker')).toHaveValue(expected);
  return sidebar;
}

/** Pick a profile or backend (`backend:slurm`, `profile:local`) and wait for its form. */
export async function pick(sidebar: Locator, selection: string): Promise<void> {
  await sidebar.getByTestId('dcl-picker').selectOption(selection);
  await expect(sidebar.getByTestId('dcl-picker')).toHaveValue(selection);
  await expect(sidebar.getByTestId('dcl-options-form')).toBeVisible();
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

/** Record every state a cluster card shows, so short-lived ones are seen too. */
export async function recordStates(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as any).__dclStates = seen;
    const record = () => {
      document.querySelectorAll('.dcl-ClusterCard .dcl-state').forEach(el => {
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
  });
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
