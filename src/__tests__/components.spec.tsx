import React, { act } from 'react';
import { createRoot, Root } from 'react-dom/client';
import { ClusterCard, IClusterActions } from '../components/ClusterCard';
import { ProfilePicker } from '../components/ProfilePicker';
import { IBackend, ICluster, IProfile } from '../types';

function cluster(overrides: Partial<ICluster> = {}): ICluster {
  return {
    id: 'c1',
    name: 'one',
    backend: 'slurm',
    profile: null,
    state: 'running',
    error: null,
    scheduler_address: 'tcp://10.0.0.1:8786',
    dashboard_link: 'http://10.0.0.1:40123/status',
    dashboard_url: '/proxy/40123/status',
    scaling: { workers: 2 },
    workers: [
      {
        name: 'w-0',
        address: 'tcp://10.0.0.2:1',
        host: 'node1',
        nthreads: 4,
        memory_limit: 4 * 1024 ** 3,
        status: 'running',
        job_id: '101'
      }
    ],
    jobs: [
      { job_id: '101', state: 'RUNNING', reason: null },
      { job_id: '102', state: 'PENDING', reason: 'Resources' }
    ],
    created: '2026-01-01T00:00:00Z',
    ...overrides
  };
}

function backend(name: string, available = true): IBackend {
  return {
    name,
    title: name.toUpperCase(),
    available,
    reason: available ? null : `${name} commands not found`,
    schema: { type: 'object', properties: {} },
    ui_schema: {},
    defaults: {}
  };
}

function profile(
  name: string,
  source: IProfile['source'],
  b = 'local'
): IProfile {
  return {
    name,
    title: name,
    description: '',
    backend: b,
    options: {},
    scaling: null,
    source,
    error: null
  };
}

let container: HTMLDivElement;
let root: Root;

beforeEach(() => {
  (globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

const noActions: IClusterActions = {
  insertCode: jest.fn(async () => undefined),
  copyCode: jest.fn(async () => undefined),
  scale: jest.fn(async () => undefined),
  adapt: jest.fn(async () => undefined),
  stop: jest.fn(async () => undefined)
};

describe('ClusterCard', () => {
  it('shows state, totals, links, and workers and jobs when expanded', () => {
    act(() =>
      root.render(
        <ClusterCard
          cluster={cluster()}
          actions={noActions}
          baseUrl="http://h/user/ann/"
        />
      )
    );
    const card = container.querySelector('.dcl-ClusterCard')!;
    expect(card.getAttribute('data-cluster-name')).toBe('one');
    expect(card.querySelector('.dcl-state')!.textContent).toBe('running');
    expect(card.querySelector('.dcl-totals')!.textContent).toBe(
      '1 worker · 4 threads · 4.0 GiB memory'
    );
    const dashboard = card.querySelector('[data-testid="dcl-dashboard"]')!;
    expect(dashboard.getAttribute('href')).toBe('/user/ann/proxy/40123/status');
    expect(dashboard.getAttribute('target')).toBe('_blank');
    expect(card.querySelectorAll('.dcl-WorkerRow')).toHaveLength(0);

    const expand = card.querySelector(
      '[data-testid="dcl-expand"]'
    ) as HTMLButtonElement;
    act(() => expand.click());
    const row = card.querySelector('.dcl-WorkerRow')!;
    expect(row.textContent).toContain('node1');
    expect(row.textContent).toContain('4.0 GiB');
    expect(row.textContent).toContain('101');
    const jobs = card.querySelectorAll('.dcl-JobRow');
    expect(jobs).toHaveLength(2);
    expect(jobs[1].textContent).toContain('Resources');
  });

  it('shows why a cluster failed and offers to remove it', () => {
    act(() =>
      root.render(
        <ClusterCard
          cluster={cluster({
            state: 'failed',
            error: 'sbatch: error: invalid partition',
            workers: [],
            jobs: []
          })}
          actions={noActions}
          baseUrl="/"
        />
      )
    );
    expect(
      container.querySelector('[data-testid="dcl-cluster-error"]')!.textContent
    ).toContain('invalid partition');
    const insert = container.querySelector(
      '[data-testid="dcl-insert"]'
    ) as HTMLButtonElement;
    expect(insert.disabled).toBe(true);
    expect(
      container.querySelector('[data-testid="dcl-stop"]')!.textContent
    ).toBe('Remove');
  });

  it('shows an action error on the card', async () => {
    const actions = {
      ...noActions,
      scale: jest.fn(async () => {
        throw Object.assign(new Error('cannot scale now'), {
          field: 'workers'
        });
      })
    };
    act(() =>
      root.render(
        <ClusterCard cluster={cluster()} actions={actions} baseUrl="/" />
      )
    );
    const scale = container.querySelector(
      '[data-testid="dcl-scale"]'
    ) as HTMLButtonElement;
    await act(async () => scale.click());
    expect(actions.scale).toHaveBeenCalledWith('c1', 2);
    expect(
      container.querySelector('[data-testid="dcl-card-error"]')!.textContent
    ).toBe('workers: cannot scale now');
  });
});

describe('ProfilePicker', () => {
  it('groups profiles by source and disables unavailable backends', () => {
    act(() =>
      root.render(
        <ProfilePicker
          backends={[backend('local'), backend('slurm', false)]}
          profiles={[
            profile('local', 'builtin'),
            profile('eddie', 'site', 'slurm'),
            profile('mine', 'user')
          ]}
          selection="profile:local"
          onSelect={() => undefined}
        />
      )
    );
    const groups = Array.from(container.querySelectorAll('optgroup')).map(g =>
      g.getAttribute('label')
    );
    expect(groups).toEqual([
      'Built-in profiles',
      'Site profiles',
      'Your profiles',
      'Backends'
    ]);
    const slurm = container.querySelector(
      'option[value="backend:slurm"]'
    ) as HTMLOptionElement;
    expect(slurm.disabled).toBe(true);
    expect(slurm.textContent).toContain('slurm commands not found');
    const eddie = container.querySelector(
      'option[value="profile:eddie"]'
    ) as HTMLOptionElement;
    expect(eddie.textContent).toContain('slurm commands not found');
  });
});
