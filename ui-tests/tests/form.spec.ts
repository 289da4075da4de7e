/**
 * The launch form people can read (issue 22, items 3-5), in Chromium against the SLURM and SGE
 * test beds: at the default (narrowest) sidebar width and at 465 px no help text, label, title or
 * select of the local, SLURM and SGE forms is cut (scrollWidth <= clientWidth; a select's chosen
 * text fits inside it); typed errors show under every field at once, in words, before Launch;
 * the batch systems' own walltimes are taken; the SGE example's memory moves its h_vmem in the
 * preview. Figures are printed as `[measure] ...` lines.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import {
  choose,
  collectConsoleErrors,
  openGroup,
  openSidebar,
  pick,
  shot
} from './helpers';

test.use({ viewport: { width: 1400, height: 900 } });

/** Drag the left sidebar's edge until the sidebar is `width` px wide. */
async function setSidebarWidth(
  page: IJupyterLabPageFixture,
  sidebar: Locator,
  width: number
): Promise<void> {
  const panel = page.locator('#jp-left-stack');
  const box = (await panel.boundingBox())!;
  const handle = page
    .locator('#jp-main-split-panel > .lm-SplitPanel-handle')
    .first();
  const grip = (await handle.boundingBox())!;
  const x = grip.x + grip.width / 2;
  const y = grip.y + grip.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + (width - box.width), y, { steps: 5 });
  await page.mouse.up();
  await expect
    .poll(async () => Math.round((await sidebar.boundingBox())!.width))
    .toBe(width);
}

/**
 * What is cut in the sidebar: texts wider than their box, and selects whose chosen option's
 * text (measured in the select's font) is wider than the select's room for it.
 */
async function clipped(sidebar: Locator): Promise<string[]> {
  return sidebar.evaluate(root => {
    const texts = root.querySelectorAll<HTMLElement>(
      '.dcl-Field-help, .dcl-Field-label, .dcl-Choice-title, .dcl-Choice-summary,' +
        ' .dcl-Form-description, .dcl-QuickLaunch-description,' +
        ' .dcl-FieldGroup-summary, .dcl-Form .error-detail'
    );
    const cut: string[] = [];
    const visible = (el: HTMLElement) => el.getClientRects().length > 0;
    for (const el of Array.from(texts).filter(visible)) {
      if (el.scrollWidth > el.clientWidth) {
        cut.push(
          `${el.className} "${el.textContent}" ${el.scrollWidth} > ${el.clientWidth}`
        );
      }
    }
    const canvas = document.createElement('canvas').getContext('2d')!;
    for (const select of Array.from(
      root.querySelectorAll<HTMLSelectElement>('select')
    ).filter(visible)) {
      const style = getComputedStyle(select);
      canvas.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const text = select.selectedOptions[0]?.textContent ?? '';
      // the room a select gives its text: its width less padding and the arrow (~20 px)
      const room =
        select.clientWidth -
        parseFloat(style.paddingLeft) -
        parseFloat(style.paddingRight) -
        20;
      const needed = canvas.measureText(text).width;
      if (needed > room) {
        cut.push(
          `select ${select.id} "${text}" ${needed.toFixed(0)} > ${room.toFixed(0)}`
        );
      }
    }
    return cut;
  });
}

/** Open every group of the form (closed ones hide their fields). */
async function openAllGroups(sidebar: Locator): Promise<void> {
  for (const group of ['Scheduling', 'Environment', 'Advanced']) {
    if (
      (await sidebar.getByTestId(`dcl-group-${group.toLowerCase()}`).count()) >
      0
    ) {
      await openGroup(sidebar, group);
    }
  }
}

test.describe('A launch form people can read', () => {
  test('nothing is cut in the local, SLURM and SGE forms at the default width and at 465 px', async ({
    page
  }) => {
    const errors = collectConsoleErrors(page);
    const sidebar = await openSidebar(page);
    const defaultWidth = Math.round((await sidebar.boundingBox())!.width);
    for (const width of [defaultWidth, 465]) {
      if (width !== defaultWidth) {
        await setSidebarWidth(page, sidebar, width);
      }
      // the profiles' titles and summaries
      await choose(sidebar, 'profile:local');
      expect(await clipped(sidebar)).toEqual([]);
      for (const backend of ['local', 'slurm', 'sge']) {
        await pick(sidebar, `backend:${backend}`);
        if (backend === 'slurm') {
          // the partition issue 22 saw cut ("short (up, m...")
          await sidebar.locator('#root_queue').selectOption({ label: 'short' });
          await expect(sidebar.getByTestId('dcl-limit-queue')).toContainText(
            'max 00:30:00'
          );
        }
        await openAllGroups(sidebar);
        const cut = await clipped(sidebar);
        const count = await sidebar
          .locator('.dcl-Field-help, .dcl-Field-label, select')
          .count();
        console.log(
          `[measure] ${backend} form at ${width} px: ${count} help texts, labels and selects, ${cut.length} cut`
        );
        expect(cut).toEqual([]);
        await shot(page, `form-${backend}-${width}px`);
      }
    }
    expect(errors).toEqual([]);
  });

  test("every backend's form opens with no error shown (its defaults are valid)", async ({
    page
  }) => {
    const sidebar = await openSidebar(page);
    const backends = await sidebar
      .locator('input[data-testid^="dcl-choice-backend-"]:not([disabled])')
      .evaluateAll(inputs =>
        inputs.map(i =>
          i.getAttribute('data-testid')!.replace('dcl-choice-backend-', '')
        )
      );
    console.log(`[measure] forms opened: ${backends.join(', ')}`);
    expect(backends.length).toBeGreaterThanOrEqual(3);
    for (const backend of backends) {
      await pick(sidebar, `backend:${backend}`);
      await expect(sidebar.locator('.dcl-Form .error-detail')).toHaveCount(0);
    }
  });

  test('typed errors show under every field at once, in words, before Launch', async ({
    page
  }) => {
    const sidebar = await openSidebar(page);
    await pick(sidebar, 'backend:slurm');
    const field = (name: string) =>
      sidebar.locator(`.dcl-Field[data-field="${name}"]`);
    await sidebar.locator('#root_walltime').fill('abc');
    await sidebar.locator('#root_memory').fill('lots');
    await sidebar.locator('#root_cores').fill('0');
    await expect(field('walltime').locator('.error-detail')).toHaveText(
      'Walltime per job: use HH:MM:SS, e.g. 01:30:00 (or minutes, MM:SS, D-HH:MM:SS)'
    );
    await expect(field('memory').locator('.error-detail')).toHaveText(
      'Memory per job: use a size such as 8 GB or 16 GiB'
    );
    await expect(field('cores').locator('.error-detail')).toHaveText(
      'Cores per job: must be at least 1'
    );
    // nothing was sent: no server error
    await expect(sidebar.getByTestId('dcl-form-error')).toHaveCount(0);
    await shot(page, 'form-typed-errors');

    // SLURM's own minutes are taken, and said in HH:MM:SS
    await sidebar.locator('#root_walltime').fill('60');
    await sidebar.locator('#root_memory').fill('2 GB');
    await sidebar.locator('#root_cores').fill('1');
    await sidebar.locator('#root_queue').selectOption({ label: 'debug' });
    await expect(sidebar.locator('.dcl-Form .error-detail')).toHaveCount(0);
    await expect(field('walltime').locator('.dcl-Field-help')).toContainText(
      'means 01:00:00'
    );
    await sidebar.getByTestId('dcl-preview').click();
    await expect(sidebar.getByTestId('dcl-preview-job-script')).toContainText(
      '#SBATCH -t 01:00:00'
    );
  });

  test("the SGE example's memory moves its h_vmem, in the form and in the job script", async ({
    page
  }) => {
    const sidebar = await openSidebar(page);
    await pick(sidebar, 'profile:sge-example');
    await openGroup(sidebar, 'Scheduling');
    const spec = sidebar.locator('#root_resource_spec');
    await expect(spec).toHaveValue('h_vmem=8G');
    await sidebar.locator('#root_memory').fill('4 G');
    await expect(spec).toHaveValue('h_vmem=4G');
    await sidebar.getByTestId('dcl-preview').click();
    const script = sidebar.getByTestId('dcl-preview-job-script');
    await expect(script).toContainText('#$ -l h_vmem=4G');
    await expect(script).not.toContainText('8G');
    await shot(page, 'form-sge-memory-moves-h_vmem', script);

    // a spec written by hand stays, and a disagreement is flagged as it is typed
    await spec.fill('h_vmem=2G');
    await sidebar.locator('#root_memory').fill('3 G');
    await expect(spec).toHaveValue('h_vmem=2G');
    await expect(
      sidebar.locator('.dcl-Field[data-field="resource_spec"] .error-detail')
    ).toContainText('h_vmem=2G is less than the memory per job (3 G)');
  });
});
