import { Notification } from '@jupyterlab/apputils';
import { Signal } from '@lumino/signaling';
import { ClusterModel } from '../model';
import { LaunchProgress, progressMessage } from '../progress';
import { translationBundle } from '../translation';
import { ICluster } from '../types';
import * as fixtures from './fixtures';

const trans = translationBundle();

/** A SLURM cluster just launched. */
function cluster(overrides: Partial<ICluster> = {}): ICluster {
  return fixtures.cluster({ backend: 'slurm', ...overrides });
}

/** A model whose clusters the test sets. */
function fakeModel() {
  const changed = new Signal<any, void>({});
  let current: ICluster | undefined;
  return {
    model: {
      clustersChanged: changed,
      cluster: (id: string) => (current?.id === id ? current : undefined)
    } as unknown as ClusterModel,
    set(c: ICluster | undefined) {
      current = c;
      changed.emit();
    }
  };
}

function note(id: string) {
  return Notification.manager.notifications.find(n => n.id === id)!;
}

afterEach(() => Notification.dismiss());

describe('progressMessage', () => {
  it('says how many jobs wait (and why) and how many workers joined', () => {
    expect(
      progressMessage(
        cluster({
          jobs: [
            { job_id: '1', state: 'PENDING', reason: 'Resources' },
            { job_id: '2', state: 'RUNNING', reason: null }
          ],
          workers: [{} as any]
        }),
        trans
      )
    ).toBe(
      'Starting Dask cluster one: 1 job pending (Resources), 1 of 2 workers'
    );
  });
});

describe('LaunchProgress', () => {
  it('shows a launch in progress, then running with its actions', () => {
    const { model, set } = fakeModel();
    const insertCode = jest.fn(async () => undefined);
    const show = jest.fn();
    const progress = new LaunchProgress({ model, trans, insertCode, show });
    const starting = cluster();
    set(starting);
    progress.track(starting);
    const id = progress.tracked.get('c1')!;
    expect(note(id).type).toBe('in-progress');
    expect(note(id).message).toBe('Starting Dask cluster one: 0 of 2 workers');

    set(cluster({ jobs: [{ job_id: '7', state: 'PD', reason: 'Priority' }] }));
    expect(note(id).message).toBe(
      'Starting Dask cluster one: 1 job pending (Priority), 0 of 2 workers'
    );
    note(id).options.actions![0].callback(new MouseEvent('click'));
    expect(show).toHaveBeenCalledWith('c1');

    set(cluster({ state: 'running', workers: [{} as any, {} as any] }));
    expect(note(id).type).toBe('success');
    expect(note(id).message).toBe('Dask cluster one is running with 2 workers');
    const [insert, showAction] = note(id).options.actions!;
    expect(insert.label).toBe('Insert client code');
    expect(showAction.label).toBe('Show');
    insert.callback(new MouseEvent('click'));
    expect(insertCode).toHaveBeenCalledWith('c1');
    progress.dispose();
  });

  it('is starting until the first worker joins, then counts what is true', () => {
    const { model, set } = fakeModel();
    const progress = new LaunchProgress({
      model,
      trans,
      insertCode: async () => undefined,
      show: () => undefined
    });
    const phase = 'scheduler up, waiting for workers';
    set(cluster({ scaling: { workers: 6 }, phase }));
    progress.track(cluster());
    const id = progress.tracked.get('c1')!;
    expect(note(id).type).toBe('in-progress');
    expect(note(id).message).toBe(
      'Starting Dask cluster one: scheduler up, waiting for workers, 0 of 6 workers'
    );
    const workers = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ name: `w${i}` }) as any);
    set(
      cluster({
        state: 'running',
        scaling: { workers: 6 },
        workers: workers(1)
      })
    );
    expect(note(id).type).toBe('success');
    expect(note(id).message).toBe(
      'Dask cluster one is running with 1 of 6 workers'
    );
    set(
      cluster({
        state: 'running',
        scaling: { workers: 6 },
        workers: workers(6)
      })
    );
    expect(note(id).message).toBe('Dask cluster one is running with 6 workers');
    // adaptive from 0: running with no worker says so, never "with 0 workers"
    set(
      cluster({
        state: 'running',
        scaling: { adapt: { minimum: 0, maximum: 4 } }
      })
    );
    expect(note(id).message).toBe(
      'Dask cluster one is running; workers join when there is work'
    );
    progress.dispose();
  });

  it('says why jobs that crashed at start failed the cluster', () => {
    const { model, set } = fakeModel();
    const progress = new LaunchProgress({
      model,
      trans,
      insertCode: async () => undefined,
      show: () => undefined
    });
    const error = "ValueError: 'ib0' is not a valid network interface";
    const ended = {
      job_id: '7',
      state: 'FAILED',
      reason: 'NonZeroExitCode',
      exit_code: 1,
      error
    };
    set(
      cluster({
        jobs: [ended, { job_id: '8', state: 'RUNNING', reason: null }]
      })
    );
    progress.track(cluster());
    const id = progress.tracked.get('c1')!;
    expect(note(id).message).toBe(
      `Starting Dask cluster one: 1 job ended before its worker joined (${error}), 0 of 2 workers`
    );
    set(
      cluster({
        state: 'failed',
        error: `${error} (all 2 batch jobs ended before a worker joined; the log of job 8 has the rest)`,
        jobs: [ended, { ...ended, job_id: '8' }]
      })
    );
    expect(note(id).type).toBe('error');
    expect(note(id).message).toBe(
      `Dask cluster one failed to start: ${error} (all 2 batch jobs ended before a worker joined; the log of job 8 has the rest)`
    );
    progress.dispose();
  });

  it('goes away when a running cluster stops: no action of a stopped cluster', () => {
    const { model, set } = fakeModel();
    const insertCode = jest.fn(async () => undefined);
    const progress = new LaunchProgress({
      model,
      trans,
      insertCode,
      show: () => undefined
    });
    set(cluster());
    progress.track(cluster());
    const id = progress.tracked.get('c1')!;
    set(cluster({ state: 'running', workers: [{} as any, {} as any] }));
    const insert = note(id).options.actions![0];
    expect(insert.label).toBe('Insert client code');
    set(cluster({ state: 'stopping', workers: [{} as any, {} as any] }));
    expect(Notification.manager.notifications.some(n => n.id === id)).toBe(
      false
    );
    expect(progress.tracked.size).toBe(0);
    // a toast still on screen: its action asks nothing of a stopped cluster
    set(undefined);
    insert.callback(new MouseEvent('click'));
    expect(insertCode).not.toHaveBeenCalled();
    progress.dispose();
  });

  it('turns into an error with the reason', () => {
    const { model, set } = fakeModel();
    const progress = new LaunchProgress({
      model,
      trans,
      insertCode: async () => undefined,
      show: () => undefined
    });
    set(cluster());
    progress.track(cluster());
    const id = progress.tracked.get('c1')!;
    set(cluster({ state: 'failed', error: 'sbatch: invalid account' }));
    expect(note(id).type).toBe('error');
    expect(note(id).message).toContain('sbatch: invalid account');
    progress.dispose();
  });

  it('goes away when the cluster does, and can be turned off', () => {
    const { model, set } = fakeModel();
    let enabled = true;
    const progress = new LaunchProgress({
      model,
      trans,
      insertCode: async () => undefined,
      show: () => undefined,
      enabled: () => enabled
    });
    set(cluster());
    progress.track(cluster());
    const id = progress.tracked.get('c1')!;
    set(undefined);
    expect(Notification.manager.notifications.some(n => n.id === id)).toBe(
      false
    );
    enabled = false;
    progress.track(cluster({ id: 'c2' }));
    expect(progress.tracked.size).toBe(0);
    progress.dispose();
  });
});
