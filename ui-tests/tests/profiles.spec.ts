/**
 * Profiles in the Clusters sidebar: save the form as a user profile, find it again after a
 * reload, launch from it, delete it.
 */
import { expect, test } from '@jupyterlab/galata';
import {
  API,
  cardNamed,
  choice,
  collectConsoleErrors,
  fillFixedScaling,
  openSidebar,
  pick,
  reloadRemembering,
  shot,
  stopClustersNamed,
  stopFromCard
} from './helpers';

const PREFIX = 'ui-profile-';

test.describe('Profiles', () => {
  let profileName = '';

  test.afterEach(async ({ page }) => {
    await stopClustersNamed(page, PREFIX);
    if (profileName) {
      // Leave no user profile behind, whatever happened.
      await page.request.delete(`/${API}/profiles/${profileName}`);
    }
  });

  test('save a profile, reload, launch from it, delete it', async ({
    page
  }) => {
    const errors = collectConsoleErrors(page);
    profileName = `${PREFIX}${Date.now()}`;
    const clusterName = `${profileName}-cluster`;
    let sidebar = await openSidebar(page, 'profile:local');
    await pick(sidebar, 'profile:local');

    // Change values first: threads per worker and a fixed 2 workers.
    await sidebar.locator('#root_threads_per_worker').fill('3');
    await fillFixedScaling(sidebar, 2);

    // Built-in profiles are read-only.
    await expect(sidebar.getByTestId('dcl-profile-update')).toHaveCount(0);
    await expect(sidebar.getByTestId('dcl-profile-delete')).toHaveCount(0);

    // A built-in name is refused, the error names the field.
    await sidebar.getByTestId('dcl-profile-save-as').click();
    await sidebar.getByTestId('dcl-profile-name').fill('local');
    await sidebar.getByTestId('dcl-profile-save').click();
    const error = sidebar.getByTestId('dcl-profile-error');
    await expect(error).toBeVisible();
    await expect(error.locator('.dcl-Error-field')).toHaveText(/^name/);
    await shot(page, '01-name-taken', error);

    await sidebar.getByTestId('dcl-profile-name').fill(profileName);
    await sidebar.getByTestId('dcl-profile-title').fill('UI test profile');
    await sidebar
      .getByTestId('dcl-profile-description')
      .fill('3 threads per worker, 2 workers');
    await sidebar.getByTestId('dcl-profile-save').click();
    await expect(sidebar.getByTestId('dcl-picker')).toHaveAttribute(
      'data-selection',
      `profile:${profileName}`
    );
    await expect(
      sidebar
        .locator('.dcl-Choices-group[data-source="user"]')
        .locator(`[data-testid="dcl-choice-profile-${profileName}"]`)
    ).toHaveCount(1);
    await expect(sidebar.getByTestId('dcl-profile-notice')).toContainText(
      'Saved'
    );
    await shot(page, '02-saved', sidebar.getByTestId('dcl-profile-actions'));

    // After a reload the profile is there, still chosen with its options open (remembered).
    await reloadRemembering(page);
    sidebar = await openSidebar(page, `profile:${profileName}`);
    await expect(sidebar.locator('#root_threads_per_worker')).toHaveValue('3');
    // Picking another profile and back fills form and scaling from each.
    await pick(sidebar, 'profile:local');
    await expect(sidebar.locator('#root_threads_per_worker')).toHaveValue('1');
    await pick(sidebar, `profile:${profileName}`);
    // One line says what it launches, Launch right under it.
    await expect(sidebar.getByTestId('dcl-quick-launch')).toHaveCount(0);
    await sidebar.getByTestId('dcl-close-options').click();
    await expect(
      choice(sidebar, `profile:${profileName}`).locator('xpath=..')
    ).toContainText('3 threads per worker · fixed 2 workers');
    await expect(sidebar.getByTestId('dcl-quick-launch')).toContainText(
      '3 threads per worker'
    );
    await sidebar.getByTestId('dcl-edit-options').click();
    await expect(sidebar.locator('#root_threads_per_worker')).toHaveValue('3');
    await expect(sidebar.getByTestId('dcl-scaling-fixed')).toBeChecked();
    await expect(sidebar.getByTestId('dcl-workers')).toHaveValue('2');
    await expect(sidebar.getByTestId('dcl-profile-update')).toBeVisible();
    await shot(page, '03-picked-after-reload');

    // Launch from it.
    await sidebar.getByTestId('dcl-name').fill(clusterName);
    await sidebar.getByTestId('dcl-launch').click();
    const card = cardNamed(sidebar, clusterName);
    await expect(card.locator('.dcl-state')).toHaveText('running', {
      timeout: 60000
    });
    await expect(card).toContainText(`profile ${profileName}`);
    await expect(card.getByTestId('dcl-totals')).toContainText('2 workers');
    await expect(card.getByTestId('dcl-totals')).toContainText('6 threads');
    await shot(page, '04-running', card);
    await stopFromCard(card);

    // Delete, with a confirmation.
    await sidebar.getByTestId('dcl-profile-delete').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('UI test profile');
    await shot(page, '05-confirm-delete');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(choice(sidebar, `profile:${profileName}`)).toHaveCount(0);
    await expect(sidebar.getByTestId('dcl-picker')).toHaveAttribute(
      'data-selection',
      'profile:local'
    );
    const response = await page.request.get(`/${API}/profiles`);
    const names = (await response.json()).map((p: any) => p.name);
    expect(names).not.toContain(profileName);
    profileName = '';
    await shot(page, '06-deleted');
    // The refused built-in name above is the one failed request.
    expect(errors.filter(e => !e.includes('409 (Conflict)'))).toEqual([]);
  });

  test('preview shows the chosen scaling', async ({ page }) => {
    const sidebar = await openSidebar(page, 'profile:local');
    await pick(sidebar, 'profile:local');
    await fillFixedScaling(sidebar, 3);
    await sidebar.getByTestId('dcl-preview').click();
    const code = sidebar.getByTestId('dcl-preview-code');
    await expect(code).toContainText('cluster.scale(3)');
    await sidebar.getByTestId('dcl-scaling-adapt').check();
    await sidebar.getByTestId('dcl-adapt-min').fill('1');
    await sidebar.getByTestId('dcl-adapt-max').fill('4');
    await sidebar.getByTestId('dcl-preview').click();
    await expect(code).toContainText('cluster.adapt(minimum=1, maximum=4)');
    await shot(page, 'preview-adapt', code);
  });
});
