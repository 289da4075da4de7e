import { Stream } from '@lumino/signaling';
import {
  applyClusterEvent,
  ClusterModel,
  latestRunning,
  preselectedProfile,
  sortClusters,
  toClusterEvent
} from '../model';
import { APIError, requestAPI } from '../request';
import { CLUSTER_EVENT_SCHEMA, IBackend, ICluster } from '../types';
import { cluster, profile } from './fixtures';

jest.mock('../request', () => {
  const actual = jest.requireActual('../request');
  return { ...actual, requestAPI: jest.fn() };
});
const mockedRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;

/** A stand-in for the cluster event socket. */
class FakeEvents {
  readonly serverSettings = {} as any;
  readonly stream = new Stream<any, any>(this);
  isDisposed = false;
  dispose(): void {
    this.isDisposed = true;
  }
  async emit(): Promise<void> {
    // not used
  }
  send(data: Record<string, any>, schema_id = CLUSTER_EVENT_SCHEMA): void {
    this.stream.emit({ schema_id, ...data });
  }
}

describe('applyClusterEvent', () => {
  it('upserts on updated and deletes on removed', () => {
    const empty = new Map<string, ICluster>();
    const one = applyClusterEvent(empty, {
      action: 'updated',
      cluster_id: 'c1',
      cluster: cluster()
    });
    expect(one.get('c1')?.state).toBe('starting');
    expect(empty.size).toBe(0);

    const running = applyClusterEvent(one, {
      action: 'updated',
      cluster_id: 'c1',
      cluster: cluster({ state: 'running' })
    });
    expect(running.get('c1')?.state).toBe('running');
    expect(one.get('c1')?.state).toBe('starting');

    const gone = applyClusterEvent(running, {
      action: 'removed',
      cluster_id: 'c1'
    });
    expect(gone.size).toBe(0);
  });

  it('applies a patch: changed fields, rows upserted and removed by key', () => {
    const w = (name: string, status = 'running') => ({
      name,
      address: `tls://10.0.0.1:${name}`,
      host: '10.0.0.1',
      nthreads: 1,
      memory_limit: 1e9,
      status,
      job_id: null
    });
    const start = new Map([
      ['c1', cluster({ state: 'running', workers: [w('a'), w('b')] })]
    ]);
    const next = applyClusterEvent(start, {
      action: 'changed',
      cluster_id: 'c1',
      changes: {
        fields: { messages: ['hello'] },
        workers: { upsert: [w('b', 'paused'), w('c')], remove: ['a'] },
        jobs: {
          upsert: [{ job_id: '7', state: 'PENDING', reason: 'Priority' }]
        }
      }
    });
    const changed = next.get('c1')!;
    expect(changed.state).toBe('running');
    expect(changed.messages).toEqual(['hello']);
    expect(changed.workers.map(x => [x.name, x.status])).toEqual([
      ['b', 'paused'],
      ['c', 'running']
    ]);
    expect(changed.jobs).toEqual([
      { job_id: '7', state: 'PENDING', reason: 'Priority' }
    ]);
    // a patch for a cluster not known yet is ignored (the next full event brings it)
    expect(
      applyClusterEvent(new Map(), {
        action: 'changed',
        cluster_id: 'c1',
        changes: { fields: { state: 'running' } }
      }).size
    ).toBe(0);
  });

  it('returns the same map when nothing changes', () => {
    const empty = new Map<string, ICluster>();
    expect(
      applyClusterEvent(empty, { action: 'removed', cluster_id: 'x' })
    ).toBe(empty);
    expect(
      applyClusterEvent(empty, { action: 'updated', cluster_id: 'x' })
    ).toBe(empty);
  });
});

describe('toClusterEvent', () => {
  it('accepts the cluster schema only', () => {
    const data = { action: 'removed', cluster_id: 'c1' };
    expect(
      toClusterEvent({ schema_id: CLUSTER_EVENT_SCHEMA, ...data })
    ).toEqual({
      action: 'removed',
      cluster_id: 'c1',
      cluster: undefined,
      changes: undefined
    });
    expect(
      toClusterEvent({ schema_id: `${CLUSTER_EVENT_SCHEMA}/v1`, ...data })
    ).not.toBeNull();
    expect(
      toClusterEvent({
        schema_id: 'https://events.jupyter.org/jupyter_server/contents',
        ...data
      })
    ).toBeNull();
    expect(
      toClusterEvent({ schema_id: CLUSTER_EVENT_SCHEMA, action: 'nope' })
    ).toBeNull();
  });
});

describe('ordering', () => {
  it('sorts newest first and finds the latest running cluster', () => {
    const a = cluster({
      id: 'a',
      created: '2026-01-01T00:00:00Z',
      state: 'running'
    });
    const b = cluster({
      id: 'b',
      created: '2026-01-02T00:00:00Z',
      state: 'running'
    });
    const c = cluster({
      id: 'c',
      created: '2026-01-03T00:00:00Z',
      state: 'starting'
    });
    expect(sortClusters([a, b, c]).map(x => x.id)).toEqual(['c', 'b', 'a']);
    expect(latestRunning([a, b, c])?.id).toBe('b');
    expect(latestRunning([c])).toBeNull();
  });
});

describe('ClusterModel', () => {
  beforeEach(() => mockedRequest.mockReset());

  it('applies events from the event stream', () => {
    const events = new FakeEvents();
    const model = new ClusterModel({ events: events as any });
    const changed = jest.fn();
    model.clustersChanged.connect(changed);

    events.send({ action: 'updated', cluster_id: 'c1', cluster: cluster() });
    expect(model.cluster('c1')?.state).toBe('starting');
    events.send({
      action: 'updated',
      cluster_id: 'c1',
      cluster: cluster({ state: 'running' })
    });
    expect(model.cluster('c1')?.state).toBe('running');
    events.send({ action: 'updated', cluster_id: 'x' }, 'other-schema');
    expect(changed).toHaveBeenCalledTimes(2);

    events.send({ action: 'removed', cluster_id: 'c1' });
    expect(model.clusters.size).toBe(0);
    // A late update of a removed cluster does not bring it back.
    events.send({
      action: 'updated',
      cluster_id: 'c1',
      cluster: cluster({ state: 'stopped' })
    });
    expect(model.clusters.size).toBe(0);

    model.dispose();
    events.send({
      action: 'updated',
      cluster_id: 'c2',
      cluster: cluster({ id: 'c2' })
    });
    expect(model.clusters.size).toBe(0);
  });

  it('applies events that arrive during the first GET on top of it', async () => {
    const events = new FakeEvents();
    const model = new ClusterModel({ events: events as any });
    let answer: (value: ICluster[]) => void = () => undefined;
    mockedRequest.mockImplementationOnce(
      () => new Promise<any>(resolve => (answer = resolve))
    );
    const loading = model.refreshClusters();
    events.send({
      action: 'updated',
      cluster_id: 'c1',
      cluster: cluster({ state: 'running' })
    });
    events.send({ action: 'removed', cluster_id: 'c2' });
    answer([
      cluster({ state: 'starting' }),
      cluster({ id: 'c2', state: 'running' })
    ]);
    await loading;
    expect(model.cluster('c1')?.state).toBe('running');
    expect(model.cluster('c2')).toBeUndefined();
  });

  it('keeps a newer event state over the launch answer', async () => {
    const events = new FakeEvents();
    const model = new ClusterModel({ events: events as any });
    mockedRequest.mockImplementationOnce(async () => {
      events.send({
        action: 'updated',
        cluster_id: 'c1',
        cluster: cluster({ state: 'running' })
      });
      return cluster({ state: 'starting' });
    });
    const launched = await model.launch({
      profile: 'local',
      options: {},
      scaling: { workers: 2 }
    });
    expect(launched.state).toBe('starting');
    expect(model.cluster('c1')?.state).toBe('running');
    expect(mockedRequest).toHaveBeenCalledWith(
      'clusters',
      expect.objectContaining({ method: 'POST' })
    );
  });

  it('removes a stopped cluster, and restores it when stopping fails', async () => {
    const model = new ClusterModel();
    model.applyEvent({
      action: 'updated',
      cluster_id: 'c1',
      cluster: cluster({ state: 'running' })
    });
    mockedRequest.mockRejectedValueOnce(new Error('409 conflict'));
    await expect(model.stop('c1')).rejects.toThrow('409 conflict');
    expect(model.cluster('c1')?.state).toBe('running');

    mockedRequest.mockResolvedValueOnce(undefined);
    await model.stop('c1');
    expect(mockedRequest).toHaveBeenLastCalledWith('clusters/c1', {
      method: 'DELETE'
    });
    expect(model.cluster('c1')).toBeUndefined();
  });

  it('drops a cluster the server no longer knows when stopping it', async () => {
    const model = new ClusterModel();
    model.applyEvent({
      action: 'updated',
      cluster_id: 'c1',
      cluster: cluster({ state: 'running' })
    });
    mockedRequest.mockRejectedValueOnce(new APIError('unknown cluster', 404));
    await model.stop('c1');
    expect(model.cluster('c1')).toBeUndefined();
  });

  it('sends scale and adapt requests', async () => {
    const model = new ClusterModel();
    mockedRequest.mockResolvedValue(cluster({ scaling: { workers: 5 } }));
    await model.scale('c1', 5);
    expect(mockedRequest).toHaveBeenLastCalledWith(
      'clusters/c1',
      expect.objectContaining({ method: 'PATCH', body: '{"workers":5}' })
    );
    await model.adapt('c1', 1, 3);
    expect(mockedRequest).toHaveBeenLastCalledWith(
      'clusters/c1',
      expect.objectContaining({
        method: 'PATCH',
        body: '{"adapt":{"minimum":1,"maximum":3}}'
      })
    );
    expect(model.cluster('c1')?.scaling).toEqual({ workers: 5 });
  });

  it('reports a failed catalog load', async () => {
    const model = new ClusterModel();
    mockedRequest.mockRejectedValue(new Error('boom'));
    await model.refreshCatalog();
    expect(model.loadError).toContain('boom');
  });
});

describe('ClusterModel profiles and preview', () => {
  beforeEach(() => mockedRequest.mockReset());

  const saved = {
    name: 'mine',
    title: 'Mine',
    description: '',
    backend: 'local',
    options: { threads_per_worker: 2 },
    scaling: { workers: 3 },
    source: 'user' as const,
    error: null
  };

  it('saves a new profile (POST) and reloads the profiles', async () => {
    const model = new ClusterModel();
    const changed = jest.fn();
    model.catalogChanged.connect(changed);
    mockedRequest.mockResolvedValueOnce(saved).mockResolvedValueOnce([saved]);
    const body = {
      name: 'mine',
      title: 'Mine',
      backend: 'local',
      options: { threads_per_worker: 2 },
      scaling: { workers: 3 }
    };
    await model.saveProfile(body);
    expect(mockedRequest).toHaveBeenNthCalledWith(1, 'profiles', {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' }
    });
    expect(mockedRequest).toHaveBeenNthCalledWith(2, 'profiles');
    expect(model.profiles).toEqual([saved]);
    expect(changed).toHaveBeenCalled();
  });

  it('updates (PUT) over the old name and deletes', async () => {
    const model = new ClusterModel();
    mockedRequest.mockResolvedValueOnce(saved).mockResolvedValueOnce([saved]);
    await model.saveProfile(
      { ...saved, name: 'renamed', scaling: { workers: 1 } },
      'mine'
    );
    expect(mockedRequest.mock.calls[0][0]).toBe('profiles/mine');
    expect((mockedRequest.mock.calls[0][1] as RequestInit).method).toBe('PUT');
    mockedRequest.mockResolvedValueOnce(undefined).mockResolvedValueOnce([]);
    await model.deleteProfile('mine');
    expect(mockedRequest).toHaveBeenCalledWith('profiles/mine', {
      method: 'DELETE'
    });
    expect(model.profiles).toEqual([]);
  });

  it('passes a server error on with its field and keeps the profiles', async () => {
    const model = new ClusterModel();
    mockedRequest.mockRejectedValueOnce(
      new APIError('name: already exists', 409, 'name')
    );
    await expect(
      model.saveProfile({
        name: 'local',
        backend: 'local',
        options: {},
        scaling: { workers: 1 }
      })
    ).rejects.toMatchObject({ status: 409, field: 'name' });
    expect(mockedRequest).toHaveBeenCalledTimes(1);
  });

  it('sends the scaling with the preview', async () => {
    const model = new ClusterModel();
    mockedRequest.mockResolvedValue({
      code: 'cluster.adapt(...)',
      job_script: null
    });
    await model.preview(
      'local',
      { n_workers: 0 },
      {
        adapt: { minimum: 1, maximum: 4 }
      }
    );
    expect(mockedRequest).toHaveBeenLastCalledWith('preview', {
      method: 'POST',
      body: JSON.stringify({
        backend: 'local',
        options: { n_workers: 0 },
        scaling: { adapt: { minimum: 1, maximum: 4 } }
      }),
      headers: { 'Content-Type': 'application/json' }
    });
  });
});

describe('ClusterModel job logs', () => {
  beforeEach(() => mockedRequest.mockReset());

  it("fetches the tail of a job's output files", async () => {
    const model = new ClusterModel();
    const log = {
      job_id: '101',
      files: [
        { path: '/home/a/dask-worker-101.out', text: 'hello\n' },
        { path: '/home/a/dask-worker-101.err', text: null }
      ]
    };
    mockedRequest.mockResolvedValueOnce(log);
    await expect(model.jobLog('c 1', '101')).resolves.toEqual(log);
    expect(mockedRequest).toHaveBeenCalledWith('clusters/c%201/jobs/101/log');
  });

  it("passes an unknown job's 404 on", async () => {
    const model = new ClusterModel();
    mockedRequest.mockRejectedValueOnce(
      new APIError("cluster 'one' has no batch job '9'", 404)
    );
    await expect(model.jobLog('c1', '9')).rejects.toMatchObject({
      status: 404,
      message: expect.stringContaining('no batch job')
    });
  });
});

describe('preselectedProfile', () => {
  const backends = [
    { name: 'local', available: true },
    { name: 'slurm', available: false }
  ] as IBackend[];
  const profiles = [
    profile('local'),
    profile('site-default', { source: 'site', default: true }),
    profile('mine', { source: 'user' }),
    profile('broken', { source: 'user', error: 'options.x: bad' }),
    profile('eddie', { source: 'site', backend: 'slurm' })
  ];
  const pick = (preferred?: string, list = profiles) =>
    preselectedProfile(list, backends, preferred)?.name ?? null;

  it('takes the server default when the setting is empty', () => {
    expect(pick('')).toBe('site-default');
    expect(pick()).toBe('site-default');
  });

  it('lets a non-empty user setting win', () => {
    expect(pick('mine')).toBe('mine');
    expect(pick('local')).toBe('local');
  });

  it('falls back to the server default for unusable or unknown names', () => {
    expect(pick('broken')).toBe('site-default');
    expect(pick('eddie')).toBe('site-default');
    expect(pick('gone')).toBe('site-default');
  });

  it('gives null when nothing fits (the panel then picks a backend)', () => {
    expect(pick('', [profile('local')])).toBeNull();
    expect(
      pick('', [profile('eddie', { backend: 'slurm', default: true })])
    ).toBeNull();
  });
});
