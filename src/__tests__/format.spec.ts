import {
  clusterTotals,
  dashboardHref,
  directLinkReachable,
  formatBytes,
  formatScaling,
  formatTimeLeft,
  formatTotals
} from '../format';
import { ICluster, IWorker } from '../types';

function worker(name: string, nthreads: number, memory: number): IWorker {
  return {
    name,
    address: `tcp://127.0.0.1:${4000 + nthreads}`,
    host: '127.0.0.1',
    nthreads,
    memory_limit: memory,
    status: 'running',
    job_id: null
  };
}

export function cluster(overrides: Partial<ICluster> = {}): ICluster {
  return {
    id: 'c1',
    name: 'one',
    backend: 'local',
    profile: 'local',
    state: 'running',
    error: null,
    scheduler_address: 'tcp://127.0.0.1:1234',
    dashboard_link: 'http://127.0.0.1:8787/status',
    dashboard_url: '/proxy/8787/status',
    scaling: { workers: 2 },
    workers: [],
    jobs: [],
    created: '2026-01-01T00:00:00Z',
    ...overrides
  };
}

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [2 * 1024 ** 3, '2.0 GiB'],
    [200 * 1024 ** 2, '200 MiB'],
    [5 * 1024 ** 5, '5.0 PiB']
  ])('%d -> %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('shows a dash for unknown sizes', () => {
    expect(formatBytes(null)).toBe('-');
    expect(formatBytes(undefined)).toBe('-');
    expect(formatBytes(-1)).toBe('-');
    expect(formatBytes(NaN)).toBe('-');
  });
});

describe('totals', () => {
  it('adds workers, threads and memory', () => {
    const c = cluster({
      workers: [worker('a', 2, 1024 ** 3), worker('b', 1, 1024 ** 3)]
    });
    expect(clusterTotals(c)).toEqual({
      workers: 2,
      threads: 3,
      memory: 2 * 1024 ** 3
    });
    expect(formatTotals(clusterTotals(c))).toBe(
      '2 workers · 3 threads · 2.0 GiB memory'
    );
  });

  it('uses singular words for one', () => {
    const c = cluster({ workers: [worker('a', 1, 512)] });
    expect(formatTotals(clusterTotals(c))).toBe(
      '1 worker · 1 thread · 512 B memory'
    );
  });

  it('handles a cluster without workers', () => {
    expect(formatTotals(clusterTotals(cluster()))).toBe(
      '0 workers · 0 threads · 0 B memory'
    );
  });
});

describe('formatScaling', () => {
  it('describes fixed and adaptive scaling', () => {
    expect(formatScaling({ workers: 3 })).toBe('fixed 3 workers');
    expect(formatScaling({ adapt: { minimum: 1, maximum: 4 } })).toBe(
      'adaptive 1–4 workers'
    );
    expect(formatScaling(null)).toBe('');
  });
});

describe('dashboardHref', () => {
  it('puts the proxied path under the base URL', () => {
    expect(dashboardHref('/proxy/1/status', 'http://h:8888/')).toBe(
      '/proxy/1/status'
    );
    expect(dashboardHref('/proxy/1/status', 'http://h/user/ann/')).toBe(
      '/user/ann/proxy/1/status'
    );
    expect(dashboardHref('proxy/1/status', '/user/ann')).toBe(
      '/user/ann/proxy/1/status'
    );
  });

  it('keeps paths that already carry the base URL, and full URLs', () => {
    expect(
      dashboardHref('/user/ann/proxy/1/status', 'http://h/user/ann/')
    ).toBe('/user/ann/proxy/1/status');
    expect(dashboardHref('https://x/status', '/')).toBe('https://x/status');
    expect(dashboardHref(null, '/')).toBeNull();
  });
});

describe('directLinkReachable', () => {
  it.each([
    ['http://10.0.0.1:8787/status', 'jupyter.example.org', true],
    ['http://127.0.0.1:8787/status', 'localhost', true],
    ['http://127.0.0.1:8787/status', 'jupyter.example.org', false],
    ['http://localhost:8787/status', 'hub.example.org', false],
    ['http://0.0.0.0:8787/status', 'localhost', false],
    ['not a url', 'localhost', false],
    [null, 'localhost', false]
  ])('%p from %p: %p', (link, browserHost, reachable) => {
    expect(directLinkReachable(link, browserHost)).toBe(reachable);
  });
});

describe('formatTimeLeft', () => {
  it('shows minutes, hours and days left', () => {
    expect(formatTimeLeft(1140)).toBe('19m left');
    expect(formatTimeLeft(1199)).toBe('19m left');
    expect(formatTimeLeft(30)).toBe('<1m left');
    expect(formatTimeLeft(0)).toBe('<1m left');
    expect(formatTimeLeft(7500)).toBe('2h 5m left');
    expect(formatTimeLeft(3600)).toBe('1h 0m left');
    expect(formatTimeLeft(2 * 86400 + 3 * 3600 + 60)).toBe('2d 3h left');
  });

  it('is empty when unknown or unlimited', () => {
    expect(formatTimeLeft(null)).toBe('');
    expect(formatTimeLeft(undefined)).toBe('');
    expect(formatTimeLeft(NaN)).toBe('');
  });
});
