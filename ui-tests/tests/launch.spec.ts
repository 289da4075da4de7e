/**
 * The sidebar laid out for people (issue 13), at 1400x900: Launch in view without scrolling,
 * the live resource summary, the new card in view right after Launch, progress shown outside
 * the sidebar (notification, Running panel), the context menu and the palette's Stop, what is
 * remembered across a reload, and an axe accessibility check. Figures are printed as
 * `[measure] ...` lines.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import {
  API,
  choose,
  collectConsoleErrors,
  openGroup,
  openSidebar,
  pick,
  reloadRemembering,
  shot,
  SIDEBAR_ID,
  stopClustersNamed
} from './helpers';

const PREFIX = 'ui-launch-';

test.use({ viewport: { width: 1400, height: 900 } });

/** Launch is inside the sidebar's visible area and the page's, with nothing scrolled. */
async function expectLaunchInView(
  page: IJupyterLabPageFixture,
  sidebar: Locator,
  what: string
): Promise<void> {
  const launch = sidebar.getByTestId('dcl-launch');
  await expect(launch).toBeVisible();
  expect(await sidebar.evaluate(el => el.scrollTop)).toBe(0);
  const box = (await launch.boundingBox())!;
  const area = (await sidebar.boundingBox())!;
  const bottom = box.y + box.height;
  expect(bottom).toBeLessThanOrEqual(Math.min(area.y + area.height, 900));
  // Whether it fits in the flow too (not only held by the sticky launch bar).
  const natural = await sidebar.evaluate(el => {
    const bar = el.querySelector('[data-testid="dcl-launch-bar"]');
    if (!bar) {
      return true;
    }
    (bar as HTMLElement).style.position = 'static';
    const fits = el.scrollHeight <= el.clientHeight + 1;
    (bar as HTMLElement).style.position = '';
    return fits;
  });
  console.log(
    `[measure] ${what}: Launch bottom at ${bottom.toFixed(0)} px of ${Math.min(
      area.y + area.height,
      900
    ).toFixed(0)}; whole panel fits without scrolling: ${natural}`
  );
}

/**
 * Time from the click on Launch to the first frame where the new card is inside the sidebar's
 * visible area (requestAnimationFrame polling in the page).
 */
async function armCardTimer(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(sidebarId => {
    const w = window as any;
    const sidebar = document.getElementById(sidebarId)!;
    const before = new Set(
      Array.from(sidebar.querySelectorAll('.dcl-ClusterCard')).map(
        c => (c as HTMLElement).dataset.clusterId
      )
    );
    w.__dclCard = { click: 0, visible: 0 };
    const launch = sidebar.querySelector('[data-testid="dcl-launch"]')!;
    const check = () => {
      const area = sidebar.getBoundingClientRect();
      const card = Array.from(
        sidebar.querySelectorAll('.dcl-ClusterCard')
      ).find(c => !before.has((c as HTMLElement).dataset.clusterId));
      if (card) {
        const r = card.getBoundingClientRect();
        if (r.top >= area.top && r.bottom <= area.bottom && r.height > 0) {
          w.__dclCard.visible = performance.now();
          w.__dclCard.id = (card as HTMLElement).dataset.clusterId;
          return;
        }
      }
      if (performance.now() - w.__dclCard.click < 10000) {
        requestAnimationFrame(check);
      }
    };
    launch.addEventListener(
      'click',
      () => {
        w.__dclCard.click = performance.now();
        requestAnimationFrame(check);
      },
      { capture: true, once: true }
    );
  }, SIDEBAR_ID);
}

async function cardTime(
  page: IJupyterLabPageFixture
): Promise<{ ms: number; id: string }> {
  await expect
    .poll(() => page.evaluate(() => (window as any).__dclCard.visible))
    .toBeGreaterThan(0);
  const { click, visible, id } = await page.evaluate(
    () => (window as any).__dclCard
  );
  return { ms: visible - click, id };
}

async function clusterNames(page: IJupyterLabPageFixture): Promise<string[]> {
  const response = await page.request.get(`/${API}/clusters`);
  return (await response.json()).map((c: any) => c.name);
}

/** Clusters launched without a name of ours (quick launch): stopped after each test. */
const launchedIds: string[] = [];

test.describe('Launch in two clicks', () => {
  test.afterEach(async ({ page }) => {
    await stopClustersNamed(page, PREFIX);
    for (const id of launchedIds.splice(0)) {
      await page.request.delete(`/${API}/clusters/${id}`);
    }
  });

  test('Launch is in view without scrolling (default profile, bare SLURM, bare SGE)', async ({
    page
  }) => {
    const errors = collectConsoleErrors(page);
    const sidebar = await openSidebar(page, 'profile:local');
    // The default profile: one line of summary, Launch right under it.
    await expect(sidebar.getByTestId('dcl-quick-launch')).toContainText(
      '2 workers'
    );
    await expectLaunchInView(page, sidebar, 'default profile');
    await shot(page, 'launch-01-default-profile');

    for (const backend of ['slurm', 'sge']) {
      await choose(sidebar, `backend:${backend}`);
      await expect(sidebar.getByTestId('dcl-options-form')).toBeVisible();
      await expect(sidebar.locator('#root_queue')).toBeVisible();
      // Scheduling, environment and advanced options start collapsed.
      for (const group of ['scheduling', 'environment', 'advanced']) {
        await expect(
          sidebar.getByTestId(`dcl-group-${group}`)
        ).not.toHaveAttribute('open', '');
      }
      await expectLaunchInView(page, sidebar, `bare ${backend}`);
      await shot(page, `launch-02-bare-${backend}`);
    }
    expect(errors).toEqual([]);
  });

  test('the summary follows the form; limits follow the partition', async ({
    page
  }) => {
    const errors = collectConsoleErrors(page);
    const sidebar = await openSidebar(page);
    await choose(sidebar, 'backend:slurm');
    const queue = sidebar.locator('#root_queue');
    /** rjsf's options have index values: choose by the label's partition name. */
    const selectQueue = async (name: string) => {
      const option = queue.locator('option', {
        hasText: new RegExp(`^${name}( |$)`)
      });
      await queue.selectOption({ label: (await option.textContent())!.trim() });
    };
    await selectQueue('short');
    // The partition's limits beside the fields, and as the form's maximum.
    await expect(sidebar.getByTestId('dcl-limit-walltime')).toHaveText(
      'max 00:30:00'
    );
    await expect(sidebar.getByTestId('dcl-limit-cores')).toHaveText('max 16');
    await expect(sidebar.locator('#root_cores')).toHaveAttribute('max', '16');

    // A known form: 4 cores and 2 GB per job, 2 workers per job, 30 min, 4 workers.
    await sidebar.locator('#root_cores').fill('4');
    await sidebar.locator('#root_memory').fill('2 GB');
    await sidebar.locator('#root_walltime').fill('00:30:00');
    await openGroup(sidebar, 'Scheduling');
    await sidebar.locator('#root_processes').fill('2');
    await sidebar.getByTestId('dcl-scaling-fixed').check();
    await sidebar.getByTestId('dcl-workers').fill('4');
    const summary = sidebar
      .getByTestId('dcl-launch-bar')
      .getByTestId('dcl-summary');
    await expect(summary.getByTestId('dcl-summary-workers')).toHaveText(
      '4 workers'
    );
    await expect(summary.getByTestId('dcl-summary-jobs')).toHaveText('2 jobs');
    await expect(summary.getByTestId('dcl-summary-cores')).toHaveText(
      '8 cores'
    );
    await expect(summary.getByTestId('dcl-summary-memory')).toHaveText('4 GB');
    await expect(summary.getByTestId('dcl-summary-core-hours')).toHaveText(
      'up to 4.0 core-hours'
    );
    console.log(
      `[measure] summary for 4 workers, 2 per job, 4 cores, 2 GB, 00:30:00: ${await summary.innerText()}`
    );
    // Adaptive: at the maximum.
    await sidebar.getByTestId('dcl-scaling-adapt').check();
    await sidebar.getByTestId('dcl-adapt-max').fill('10');
    await expect(summary.getByTestId('dcl-summary-core-hours')).toHaveText(
      'up to 10.0 core-hours'
    );
    // Over the limit: said under the field as you type, before anything is sent.
    await sidebar.locator('#root_walltime').fill('01:00:00');
    await expect(
      sidebar.locator('.dcl-Field[data-field="walltime"] .error-detail')
    ).toContainText("short partition's limit (00:30:00)");
    await expect(summary.getByTestId('dcl-summary-core-hours')).toHaveText(
      'up to 20.0 core-hours'
    );
    await shot(page, 'launch-03-summary-and-limits');
    // The debug partition has no time limit.
    await selectQueue('debug');
    await expect(sidebar.getByTestId('dcl-limit-walltime')).toHaveCount(0);
    await expect(
      sidebar.locator('.dcl-Field[data-field="walltime"] .error-detail')
    ).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test('Launch: the card is in view at once; notification, Running panel, context menu', async ({
    page
  }) => {
    const errors = collectConsoleErrors(page);
    const sidebar = await openSidebar(page, 'profile:local');

    // Click 1 was the preselected profile; click 2:
    await armCardTimer(page);
    await sidebar.getByTestId('dcl-launch').click();
    const first = await cardTime(page);
    launchedIds.push(first.id);
    console.log(
      `[measure] Launch click -> new card in view: ${first.ms.toFixed(1)} ms (local profile)`
    );
    expect(first.ms).toBeLessThan(150);
    const card = sidebar.locator(
      `.dcl-ClusterCard[data-cluster-id="${first.id}"]`
    );
    const name = (await card.getAttribute('data-cluster-name'))!;

    // With the sidebar collapsed, the notification tells how it goes.
    await page.sidebar.close('left');
    const toast = page.locator('.Toastify__toast', { hasText: name });
    await expect(toast).toBeVisible();
    await expect(toast).toContainText(/Starting Dask cluster|is running/);
    await shot(page, 'launch-04-notification-sidebar-collapsed');
    await expect(toast).toContainText(`Dask cluster ${name} is running`, {
      timeout: 60000
    });
    await expect(
      toast.getByRole('button', { name: 'Insert client code' })
    ).toBeVisible();
    await expect(toast.getByRole('button', { name: 'Show' })).toBeVisible();
    await shot(page, 'launch-05-notification-running');
    // "Show" opens the sidebar at the card.
    await toast.getByRole('button', { name: 'Show' }).click();
    await expect(card).toBeInViewport();
    await expect(card).toBeFocused();
    await expect(sidebar.getByTestId('dcl-announcer')).toContainText(
      `Cluster ${name} is running`
    );

    // The card's context menu.
    await card.locator('.dcl-ClusterCard-name').click({ button: 'right' });
    const menu = page.locator('.lm-Menu');
    for (const item of [
      'Insert Client Code',
      'Copy Full Client Code',
      'Open Dashboard in a Browser Tab',
      'Scale…',
      'Stop…'
    ]) {
      await expect(menu.getByText(item, { exact: true })).toBeVisible();
    }
    await shot(page, 'launch-06-context-menu');
    await menu.getByText('Scale…', { exact: true }).click();
    const dialog = page.locator('.jp-Dialog');
    await dialog.locator('input').fill('3');
    await dialog.getByRole('button', { name: 'Scale' }).click();
    await expect(card.getByTestId('dcl-totals')).toContainText('3 workers', {
      timeout: 60000
    });

    // The picture in the README: a SLURM form with the partition's limits and its summary.
    await choose(sidebar, 'backend:slurm');
    const queue = sidebar.locator('#root_queue');
    const short = queue.locator('option', { hasText: /^short( |$)/ });
    await queue.selectOption({ label: (await short.textContent())!.trim() });
    await sidebar.locator('#root_cores').fill('4');
    await sidebar.locator('#root_walltime').fill('00:20:00');
    await sidebar.getByTestId('dcl-scaling-adapt').check();
    await sidebar.getByTestId('dcl-adapt-max').fill('20');
    await page.mouse.move(700, 450);
    // From the backend choices down: the form's first fields, their limits and the summary.
    await sidebar.evaluate(el => {
      const chips = el.querySelector('.dcl-Choices-backends')!;
      el.scrollTop +=
        chips.getBoundingClientRect().top - el.getBoundingClientRect().top - 6;
    });
    await sidebar.screenshot({
      path: test.info().outputPath('readme-sidebar.png')
    });

    // The Running panel lists it; its Stop asks first (3 workers), as the card's does.
    await page.sidebar.openTab('jp-running-sessions');
    const item = page
      .locator('#jp-running-sessions .dcl-RunningItem')
      .filter({ hasText: name });
    await expect(item).toBeVisible();
    await expect(item).toContainText('3 workers');
    await shot(page, 'launch-07-running-panel');
    // Its Stop button shows on hover.
    await item.hover();
    await item.locator('.jp-RunningSessions-itemShutdown').click();
    await expect(dialog).toContainText('3 workers');
    await dialog.locator('.jp-mod-warn').click();
    await expect(item).toHaveCount(0, { timeout: 60000 });
    await expect.poll(() => clusterNames(page)).not.toContain(name);
    expect(errors).toEqual([]);
  });

  test("the Kernel choice preselects the open notebook's kernel, and the cluster runs it", async ({
    page
  }) => {
    const sidebar = await openSidebar(page);
    await choose(sidebar, 'profile:local');
    const kernel = sidebar.getByTestId('dcl-kernel');
    // No notebook open: the server's Python.
    await expect(kernel).toHaveAttribute('data-kernel', '');
    await expect(kernel.locator('option:checked')).toHaveText(
      "The server's Python"
    );
    await page.notebook.createNew(`${PREFIX}kernel.ipynb`);
    await page.sidebar.openTab(SIDEBAR_ID);
    await expect(kernel).toHaveAttribute('data-kernel', 'python3');
    await expect(kernel.locator('option:checked')).toHaveText(
      'Python 3 (ipykernel)'
    );
    await expect(sidebar.getByTestId('dcl-kernel-note')).toHaveText(
      " — this notebook's"
    );
    await shot(page, 'kernel-choice', kernel);

    const before = new Set(
      (await (await page.request.get(`/${API}/clusters`)).json()).map(
        (c: any) => c.id
      )
    );
    await sidebar.getByTestId('dcl-launch').click();
    let launched: any = null;
    await expect
      .poll(async () => {
        const clusters: any[] = await (
          await page.request.get(`/${API}/clusters`)
        ).json();
        launched = clusters.find(c => !before.has(c.id)) ?? null;
        return launched?.kernel ?? null;
      })
      .toBe('python3');
    launchedIds.push(launched.id);
  });

  test('a long form scrolled down: after Launch the card is scrolled into view', async ({
    page
  }) => {
    const errors = collectConsoleErrors(page);
    const sidebar = await openSidebar(page);
    await choose(sidebar, 'backend:local');
    await sidebar.getByTestId('dcl-scaling-fixed').check();
    await sidebar.getByTestId('dcl-workers').fill('1');
    await sidebar.getByTestId('dcl-name').fill(`${PREFIX}scrolled`);
    // Make the panel taller than the sidebar and scroll to its end.
    await sidebar.getByTestId('dcl-preview').click();
    await expect(sidebar.getByTestId('dcl-preview-code')).toBeVisible();
    await sidebar.getByTestId('dcl-profile-save-as').click();
    await sidebar.evaluate(el => {
      const pad = document.createElement('div');
      pad.style.height = '1200px';
      pad.className = 'dcl-test-padding';
      el.querySelector('.dcl-LaunchForm')!.appendChild(pad);
      el.scrollTop = el.scrollHeight;
    });
    expect(await sidebar.evaluate(el => el.scrollTop)).toBeGreaterThan(200);
    await armCardTimer(page);
    await sidebar.getByTestId('dcl-launch').click();
    const timing = await cardTime(page);
    console.log(
      `[measure] Launch click -> new card scrolled into view: ${timing.ms.toFixed(1)} ms (form scrolled down)`
    );
    expect(timing.ms).toBeLessThan(150);
    await shot(page, 'launch-08-card-scrolled-into-view');
    await sidebar.evaluate(el =>
      el.querySelector('.dcl-test-padding')?.remove()
    );
    expect(errors).toEqual([]);
  });

  test('the palette asks which cluster to stop and confirms', async ({
    page
  }) => {
    const errors = collectConsoleErrors(page);
    const sidebar = await openSidebar(page);
    const names = [`${PREFIX}a-${Date.now()}`, `${PREFIX}b-${Date.now()}`];
    for (const name of names) {
      await page.request.post(`/${API}/clusters`, {
        data: { backend: 'local', name, options: {}, scaling: { workers: 0 } }
      });
    }
    for (const name of names) {
      await expect(
        sidebar.locator(`.dcl-ClusterCard[data-cluster-name="${name}"]`)
      ).toHaveCount(1);
    }
    // The command palette: "Stop a Dask cluster".
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#command-palette');
    await palette.locator('input').fill('Stop a Dask cluster');
    await palette
      .locator('.lm-CommandPalette-item', { hasText: 'Stop a Dask cluster' })
      .first()
      .click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Stop a Dask cluster');
    const option = dialog.locator('option', { hasText: names[1] });
    await dialog
      .locator('select')
      .selectOption({ label: (await option.textContent())!.trim() });
    await shot(page, 'launch-09-palette-stop-which');
    await dialog.getByRole('button', { name: 'Next' }).click();
    await expect(dialog).toContainText(`Stop ${names[1]}?`);
    await shot(page, 'launch-10-palette-stop-confirm');
    await dialog.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => clusterNames(page)).not.toContain(names[1]);
    expect(await clusterNames(page)).toContain(names[0]);
    expect(errors).toEqual([]);
  });

  test('the last choice and its form values survive a reload', async ({
    page
  }) => {
    let sidebar = await openSidebar(page, 'profile:local');
    await pick(sidebar, 'backend:sge');
    await sidebar.locator('#root_walltime').fill('00:12:00');
    await sidebar.getByTestId('dcl-scaling-adapt').check();
    await sidebar.getByTestId('dcl-adapt-max').fill('7');
    await reloadRemembering(page);
    sidebar = await openSidebar(page, 'backend:sge');
    await expect(sidebar.locator('#root_walltime')).toHaveValue('00:12:00');
    await expect(sidebar.getByTestId('dcl-adapt-max')).toHaveValue('7');
    // Another backend and back: its values too.
    await choose(sidebar, 'backend:slurm');
    await choose(sidebar, 'backend:sge');
    await expect(sidebar.locator('#root_walltime')).toHaveValue('00:12:00');
    await shot(page, 'launch-11-remembered');
  });

  test('axe: no serious accessibility violations in the sidebar', async ({
    page
  }) => {
    const sidebar = await openSidebar(page, 'profile:local');
    const check = async (what: string) => {
      const result = await new AxeBuilder({ page })
        .include(`#${SIDEBAR_ID}`)
        .analyze();
      const serious = result.violations.filter(
        v => v.impact === 'serious' || v.impact === 'critical'
      );
      console.log(
        `[measure] axe (${what}): ${result.violations.length} violations, ${serious.length} serious or critical` +
          (result.violations.length
            ? `: ${result.violations.map(v => `${v.id} (${v.impact}, ${v.nodes.length})`).join(', ')}`
            : '')
      );
      expect(serious.map(v => `${v.id}: ${v.help}`)).toEqual([]);
    };
    await check('default profile');
    await choose(sidebar, 'backend:slurm');
    await openGroup(sidebar, 'Scheduling');
    await check('SLURM form, Scheduling open');
    const response = await page.request.post(`/${API}/clusters`, {
      data: {
        backend: 'local',
        name: `${PREFIX}axe`,
        options: {},
        scaling: { workers: 1 }
      }
    });
    expect(response.status()).toBe(202);
    const card = sidebar.locator(
      `.dcl-ClusterCard[data-cluster-name="${PREFIX}axe"]`
    );
    await expect(card.getByTestId('dcl-state')).toHaveText('running', {
      timeout: 60000
    });
    await card.getByTestId('dcl-expand').click();
    await expect(card.locator('.dcl-WorkerRow')).toHaveCount(1);
    await check('running card, expanded');

    // Test ids are unique: in the sidebar, and within each card or table row.
    const duplicates = await sidebar.evaluate(el => {
      const seen = new Map<Element, Set<string>>();
      const repeated: string[] = [];
      el.querySelectorAll('[data-testid]').forEach(node => {
        const scope = node.closest('tr, .dcl-ClusterCard') ?? el;
        const id = node.getAttribute('data-testid')!;
        const ids = seen.get(scope) ?? new Set<string>();
        if (ids.has(id)) {
          repeated.push(id);
        }
        ids.add(id);
        seen.set(scope, ids);
      });
      return repeated;
    });
    expect(duplicates).toEqual([]);
  });
});
