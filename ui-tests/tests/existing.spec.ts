/**
 * The "Existing scheduler" backend: connect the sidebar to a `dask scheduler` started by hand
 * (as a user, dask-mpi or a colleague would), use it from a notebook, stop only the connection.
 */
import { expect, test } from '@jupyterlab/galata';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  expectRunning,
  insertClientCode,
  launch,
  openSidebar,
  pick,
  runClientCode,
  runNewCell,
  shot,
  stopClustersAfterEach,
  stopFromCard
} from './helpers';

/** A `dask scheduler` on loopback and a `dask worker --nworkers 2` connected to it. */
class DaskByHand {
  readonly directory = fs.mkdtempSync(path.join(os.tmpdir(), 'dcl-existing-'));
  readonly processes: ChildProcess[] = [];
  address = '';
  dashboardPort = 0;

  private spawnDask(args: string[], log: string): ChildProcess {
    const out = fs.openSync(path.join(this.directory, log), 'a');
    // `python` of the PATH the tests run with (the project's virtual environment)
    const child = spawn('python', ['-m', 'dask', ...args], {
      stdio: ['ignore', out, out]
    });
    fs.closeSync(out);
    this.processes.push(child);
    return child;
  }

  async start(): Promise<void> {
    const file = path.join(this.directory, 'scheduler.json');
    this.spawnDask(
      [
        'scheduler',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--dashboard-address',
        '127.0.0.1:0',
        '--scheduler-file',
        file
      ],
      'scheduler.log'
    );
    await expect.poll(() => fs.existsSync(file), { timeout: 60000 }).toBe(true);
    await new Promise(resolve => setTimeout(resolve, 200)); // its writer closes it
    const info = JSON.parse(fs.readFileSync(file, 'utf-8'));
    this.address = info.address;
    this.dashboardPort = info.services.dashboard;
    this.spawnDask(
      [
        'worker',
        '--scheduler-file',
        file,
        '--nworkers',
        '2',
        '--nthreads',
        '1',
        '--no-dashboard'
      ],
      'worker.log'
    );
  }

  schedulerRunning(): boolean {
    const scheduler = this.processes[0];
    return scheduler.exitCode === null && scheduler.signalCode === null;
  }

  async stop(): Promise<void> {
    for (const child of [...this.processes].reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise(resolve => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([
          exited,
          new Promise(resolve => setTimeout(resolve, 20000))
        ]);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
        }
      }
    }
    fs.rmSync(this.directory, { recursive: true, force: true });
  }
}

test.describe('Existing scheduler', () => {
  const dask = new DaskByHand();

  test.beforeAll(async () => {
    await dask.start();
  });

  test.afterAll(async () => {
    await dask.stop();
  });

  stopClustersAfterEach('existing-');

  test('connect by address, watch its workers, compute from a notebook, disconnect', async ({
    page
  }) => {
    const name = `existing-${Date.now()}`;
    const sidebar = await openSidebar(page);
    await pick(sidebar, 'backend:existing');
    await sidebar.locator('#root_address').fill(dask.address);
    await sidebar.getByTestId('dcl-name').fill(name);
    await shot(page, '01-form');

    const card = await launch(sidebar, name);
    await expectRunning(card, 2, 30000);
    await expect(card.getByTestId('dcl-totals')).toContainText('2 workers');
    // its own dashboard, linked directly: an adopted scheduler is never relayed through
    // the Jupyter server, which would hand it the user's token and cookies
    await expect(card.getByTestId('dcl-dashboard-direct')).toHaveAttribute(
      'href',
      new RegExp(`:${dask.dashboardPort}/status$`)
    );
    await expect(card.getByTestId('dcl-dashboard')).toHaveCount(0);
    await shot(page, '02-running-workers', card);

    // the launcher does not own these workers: scaling is refused, with the reason
    await card.getByTestId('dcl-scale-input').fill('5');
    await card.getByTestId('dcl-scale').click();
    await expect(card.getByTestId('dcl-card-error')).toContainText(
      'cannot scale'
    );
    await expect(card.locator('.dcl-WorkerRow')).toHaveCount(2);
    await shot(page, '03-scaling-refused', card);

    // the card's client code, in a notebook, computes on the scheduler's workers
    await insertClientCode(
      page,
      card,
      'existing.ipynb',
      `Client('${dask.address}')`
    );
    await runClientCode(page);
    await runNewCell(
      page,
      'print(client.submit(lambda x: x + 1, 41).result(), len(client.nthreads()))',
      '42 2'
    );
    await shot(page, '04-computed');

    // stopping disconnects the launcher only: the scheduler keeps serving the notebook
    await stopFromCard(card);
    expect(dask.schedulerRunning()).toBe(true);
    await runNewCell(
      page,
      "print('again', client.submit(lambda x: x * 2, 21).result())",
      'again 42'
    );
    await shot(page, '05-disconnected');
  });
});
