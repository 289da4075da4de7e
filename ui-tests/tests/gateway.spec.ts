/**
 * Dask Gateway golden path against the loopback gateway of testbeds/start-gateway.sh (real
 * dask-gateway-server, local backend, password login), which jupyter_server_test_config.py
 * points the extension and the kernels at.
 */
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';
import {
  API,
  cardNamed,
  insertClientCode,
  launchRunning,
  openSidebar,
  pick,
  runClientCode,
  runNewCell,
  shot,
  stopClustersNamed,
  SIDEBAR_ID,
  stopFromCard
} from './helpers';

const PREFIX = 'ui-gateway-';

interface IGatewayInfo {
  address: string;
  username: string;
  password: string;
}

function gatewayInfo(): IGatewayInfo {
  const dir =
    process.env.DCL_GATEWAY_DIR ?? '/tmp/dask-cluster-launcher-gateway';
  return JSON.parse(fs.readFileSync(path.join(dir, 'info.json'), 'utf-8'));
}

/** A call to the gateway's own REST API, logged in as the test user. */
async function gatewayApi(
  method: string,
  route: string,
  body?: unknown
): Promise<any> {
  const { address, username, password } = gatewayInfo();
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  const response = await fetch(`${address}/api/v1/clusters/${route}`, {
    method,
    headers: {
      Authorization: `Basic ${auth}`,
      'Content-Type': 'application/json'
    },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  expect(response.ok).toBe(true);
  return response.status === 204 ? null : response.json();
}

/** The names of the test user's active clusters on the gateway. */
async function gatewayClusters(): Promise<string[]> {
  return Object.keys(await gatewayApi('GET', ''));
}

test.describe('Dask Gateway backend', () => {
  test.afterEach(async ({ page }) => {
    await stopClustersNamed(page, PREFIX);
    for (const name of await gatewayClusters()) {
      await gatewayApi('DELETE', name);
    }
  });

  test('launch with a worker profile, use it from a notebook, stop it', async ({
    page
  }) => {
    const name = `${PREFIX}${Date.now()}`;
    const sidebar = await openSidebar(page);
    await pick(sidebar, 'backend:gateway');

    // The form is the gateway's cluster_options(): the Select's choices, the Integer.
    const profile = sidebar.locator('#root_worker_profile');
    await expect(
      profile.locator('option', { hasText: 'Small Worker' })
    ).toHaveCount(1);
    await expect(
      profile.locator('option', { hasText: 'Medium Worker' })
    ).toHaveCount(1);
    await profile.selectOption('Medium Worker');
    await sidebar.locator('#root_worker_threads').fill('2');
    await shot(page, 'gateway-01-form');

    const { card, workers } = await launchRunning(page, sidebar, name, 1);
    // Medium Worker: 2 cores, 2 GiB.
    await expect(card.getByTestId('dcl-totals')).toContainText('2 threads');
    await expect(card.getByTestId('dcl-totals')).toContainText('2.0 GiB');

    // The gateway runs exactly this cluster, with these options; its dashboard is the
    // gateway's own, linked directly and through the Jupyter server.
    const [gatewayName] = await gatewayClusters();
    const report = await gatewayApi('GET', gatewayName);
    expect(report.options).toEqual({
      worker_profile: 'Medium Worker',
      worker_threads: 2
    });
    await expect(card).toContainText(`/${gatewayName}`);
    const direct = card.getByTestId('dcl-dashboard-direct');
    const directLink = `${gatewayInfo().address}/clusters/${gatewayName}/status`;
    await expect(direct).toHaveAttribute('href', directLink);
    expect((await page.request.get(directLink)).ok()).toBe(true);
    const proxied = await card
      .getByTestId('dcl-dashboard')
      .getAttribute('href');
    expect(proxied).toContain(`/clusters/${gatewayName}/status`);
    const throughJupyter = await page.request.get(proxied!);
    expect(throughJupyter.ok()).toBe(true);
    expect(await throughJupyter.text()).toContain('Dask');
    await shot(page, 'gateway-02-running', workers);

    // The client code connects through the gateway with the kernel's own dask config.
    await insertClientCode(
      page,
      card,
      'gateway.ipynb',
      `gateway.connect('${gatewayName}')`
    );
    await runClientCode(page);
    const answer = await runNewCell(
      page,
      'client.submit(lambda x: x + 1, 41).result()',
      '42'
    );
    await expect(answer.first()).toHaveText('42');
    await shot(page, 'gateway-03-client-output');
    await page.sidebar.openTab(SIDEBAR_ID);

    await stopFromCard(card);
    await expect.poll(gatewayClusters, { timeout: 30000 }).toEqual([]);
  });

  test('a cluster made outside the sidebar is listed, scaled and stopped there', async ({
    page
  }) => {
    const sidebar = await openSidebar(page);
    // Made with the gateway's API directly (as dask_gateway in a notebook does).
    const { name } = await gatewayApi('POST', '', {
      cluster_options: { worker_profile: 'Small Worker' }
    });
    const card = cardNamed(sidebar, name);
    await expect(card).toHaveCount(1, { timeout: 30000 });
    await expect(card.locator('.dcl-state')).toHaveText('running');
    const response = await page.request.get(`/${API}/clusters/gateway-${name}`);
    const model = await response.json();
    expect(model.external).toBe(true);

    await expect(card).toHaveAttribute('data-cluster-id', `gateway-${name}`);
    await card.getByTestId('dcl-expand').click();
    await card.getByTestId('dcl-scale-input').fill('1');
    await card.getByTestId('dcl-scale').click();
    await expect(card.locator('.dcl-WorkerRow')).toHaveCount(1, {
      timeout: 30000
    });
    await shot(page, 'gateway-04-external', card);

    await stopFromCard(card);
    await expect.poll(gatewayClusters, { timeout: 30000 }).toEqual([]);
    // Not found again by the next discovery.
    await page.waitForTimeout(3000);
    await expect(card).toHaveCount(0);
  });
});
