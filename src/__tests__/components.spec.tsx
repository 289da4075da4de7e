import React, { act } from 'react';
import { ClusterCard, IClusterActions } from '../components/ClusterCard';
import { ProfileActions } from '../components/ProfileActions';
import { ProfilePicker } from '../components/ProfilePicker';
import { ClusterModel } from '../model';
import { APIError } from '../request';
import { ICluster, IProfile } from '../types';
import * as fixtures from './fixtures';
import { backend } from './fixtures';
import { freshReactRoot, noClusterActions, typeInto } from './reactHarness';

/** A running SLURM cluster: one worker in job 101, job 102 pending. */
function cluster(overrides: Partial<ICluster> = {}): ICluster {
  return fixtures.cluster({
    backend: 'slurm',
    state: 'running',
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
      { job_id: '101', state: 'RUNNING', reason: null, time_left: 1140 },
      { job_id: '102', state: 'PENDING', reason: 'Resources' }
    ],
    ...overrides
  });
}

function profile(
  name: string,
  source: IProfile['source'],
  b = 'local'
): IProfile {
  return fixtures.profile(name, { source, backend: b });
}

const dom = freshReactRoot();

const noActions = noClusterActions();

const byTestId = (id: string) =>
  dom.container.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;

/** A card with these actions, for a server at the root URL. */
const renderCard = (c: ICluster, actions: IClusterActions = noActions) =>
  act(() =>
    dom.root.render(<ClusterCard cluster={c} actions={actions} baseUrl="/" />)
  );

const expand = () => act(() => byTestId('dcl-expand')!.click());

describe('ClusterCard', () => {
  it('shows state, totals, links, and workers and jobs when expanded', () => {
    act(() =>
      dom.root.render(
        <ClusterCard
          cluster={cluster()}
          actions={noActions}
          baseUrl="http://h/user/ann/"
        />
      )
    );
    const card = dom.container.querySelector('.dcl-ClusterCard')!;
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
    // Pending jobs first, under their reason; a small group is unfolded.
    const jobs = card.querySelectorAll('.dcl-JobRow');
    expect(jobs).toHaveLength(2);
    expect(jobs[0].textContent).toContain('Resources');
  });

  it('marks worker and job rows with their names, job ids and states', () => {
    renderCard(cluster());
    expand();
    const row = dom.container.querySelector('.dcl-WorkerRow')!;
    expect(row.getAttribute('data-worker-name')).toBe('w-0');
    expect(row.getAttribute('data-job-id')).toBe('101');
    // Compact: name and host, then threads, memory and status; the job id is
    // the last cell (the UI tests read it there).
    const cells = row.querySelectorAll('td');
    expect(cells).toHaveLength(2);
    expect(cells[0].textContent).toBe('w-0 node14 threads · 4.0 GiB · running');
    expect(cells[1].textContent).toBe('101');
    const jobs = dom.container.querySelectorAll('.dcl-JobRow');
    expect(jobs[0].getAttribute('data-job-id')).toBe('102');
    expect(jobs[0].getAttribute('data-job-state')).toBe('PENDING');
    expect(jobs[0].querySelectorAll('td')[0].textContent).toBe('102');
    expect(jobs[0].querySelectorAll('td')[1].textContent).toBe('PENDING');
    expect(jobs[1].querySelectorAll('td')[1].textContent).toBe(
      'RUNNING · 19m left'
    );
  });

  it('has no job column for workers without batch jobs', () => {
    const local = cluster({
      backend: 'local',
      jobs: [],
      workers: [{ ...cluster().workers[0], nthreads: 1, job_id: null }]
    });
    renderCard(local);
    expand();
    const row = dom.container.querySelector('.dcl-WorkerRow')!;
    expect(row.hasAttribute('data-job-id')).toBe(false);
    expect(row.querySelectorAll('td')).toHaveLength(1);
    expect(row.textContent).toContain('1 thread ·');
    // Sortable headers for what the row shows (by name at first), none for a job.
    expect(
      Array.from(dom.container.querySelectorAll('.dcl-WorkerTable th')).map(
        th => th.textContent
      )
    ).toEqual(['Name▲', 'Host', 'Threads', 'Memory', 'State']);
    expect(dom.container.querySelector('.dcl-JobTable')).toBeNull();
  });

  it('shows why a cluster failed and offers to remove it', () => {
    renderCard(
      cluster({
        state: 'failed',
        error: 'sbatch: error: invalid partition',
        workers: [],
        jobs: []
      })
    );
    expect(byTestId('dcl-cluster-error')!.textContent).toContain(
      'invalid partition'
    );
    const insert = byTestId('dcl-insert') as HTMLButtonElement;
    expect(insert.disabled).toBe(true);
    expect(byTestId('dcl-stop')!.textContent).toBe('Remove');
  });

  it('offers client code once the scheduler is up, before any worker joins', () => {
    const starting = cluster({
      state: 'starting',
      phase: 'starting the scheduler',
      scheduler_address: null,
      workers: [],
      jobs: []
    });
    renderCard(starting);
    const insert = () => byTestId('dcl-insert') as HTMLButtonElement;
    expect(insert().disabled).toBe(true);
    renderCard({
      ...starting,
      phase: 'scheduler up, waiting for workers',
      scheduler_address: 'tls://127.0.0.1:40123'
    });
    expect(byTestId('dcl-phase')!.textContent).toBe(
      'scheduler up, waiting for workers'
    );
    expect(insert().disabled).toBe(false);
  });

  it("shows the resource manager's messages while starting, and notices once running", () => {
    const starting = cluster({
      state: 'starting',
      workers: [],
      jobs: [],
      messages: ['Starting cluster. Status: pending']
    });
    renderCard(starting);
    expect(byTestId('dcl-cluster-messages')!.textContent).toBe(
      'Starting cluster. Status: pending'
    );
    // running: the server drops what it said while starting
    renderCard({ ...starting, state: 'running', messages: [] });
    expect(byTestId('dcl-cluster-messages')).toBeNull();
    const notice = '1 of 2 workers: 123 ended; replacing';
    renderCard({ ...starting, state: 'running', messages: [notice] });
    expect(byTestId('dcl-cluster-messages')!.textContent).toBe(notice);
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
    renderCard(cluster(), actions);
    // Scaling is in the card's details.
    expect(byTestId('dcl-scale')).toBeNull();
    expand();
    const scale = byTestId('dcl-scale') as HTMLButtonElement;
    await act(async () => scale.click());
    expect(actions.scale).toHaveBeenCalledWith('c1', 2);
    expect(byTestId('dcl-card-error')!.textContent).toBe(
      'workers: cannot scale now'
    );
  });
});

describe('ProfilePicker', () => {
  it('lists profiles by source with a summary, then the usable backends', () => {
    const onSelect = jest.fn();
    act(() =>
      dom.root.render(
        <ProfilePicker
          backends={[backend('local'), backend('slurm', false)]}
          profiles={[
            {
              ...profile('local', 'builtin'),
              options: { threads_per_worker: 2 },
              scaling: { workers: 3 }
            },
            profile('eddie', 'site', 'slurm'),
            profile('mine', 'user')
          ]}
          selection="profile:local"
          onSelect={onSelect}
          selectedActions={<button data-testid="dcl-launch">Launch</button>}
        />
      )
    );
    const headings = Array.from(
      dom.container.querySelectorAll('.dcl-Choices-heading')
    ).map(h => h.textContent);
    expect(headings).toEqual([
      'Built-in profiles',
      'Site profiles',
      'Your profiles',
      'Or a backend'
    ]);
    const local = byTestId('dcl-choice-profile-local') as HTMLInputElement;
    expect(local.checked).toBe(true);
    expect(local.closest('label')!.textContent).toBe(
      'localLOCAL · 2 threads per worker · fixed 3 workers'
    );
    // The selected profile's actions come right under it.
    const launch = byTestId('dcl-launch')!;
    expect(local.closest('label')!.nextElementSibling).toBe(launch);
    // A backend that cannot run here is not offered, but named with why.
    expect(byTestId('dcl-choice-backend-slurm')).toBeNull();
    const unavailable = byTestId('dcl-unavailable-backends')!;
    expect(unavailable.textContent).toBe('+1 unavailable');
    expect(unavailable.getAttribute('title')).toBe(
      'SLURM: slurm commands not found'
    );
    const eddie = byTestId('dcl-choice-profile-eddie') as HTMLInputElement;
    expect(eddie.disabled).toBe(true);
    expect(eddie.closest('label')!.textContent).toContain(
      'slurm commands not found'
    );
    act(() =>
      (byTestId('dcl-choice-backend-local') as HTMLInputElement).click()
    );
    expect(onSelect).toHaveBeenCalledWith('backend:local');
  });
});

describe('ClusterCard dashboard in JupyterLab', () => {
  const render = (canOpenDashboard: boolean, state: ICluster['state']) => {
    const actions = { ...noActions, openDashboard: jest.fn(async () => {}) };
    act(() =>
      dom.root.render(
        <ClusterCard
          cluster={cluster({ state })}
          actions={actions}
          baseUrl="/"
          canOpenDashboard={canOpenDashboard}
          dashboardShown={true}
        />
      )
    );
    return actions;
  };
  const button = () =>
    byTestId('dcl-open-dashboard') as HTMLButtonElement | null;

  it('offers the panes on a running card when dask-labextension is there', async () => {
    const actions = render(true, 'running');
    await act(async () => button()!.click());
    expect(actions.openDashboard).toHaveBeenCalledWith('c1');
    expect(byTestId('dcl-dashboard-shown')).not.toBeNull();
  });

  it('hides the button without dask-labextension or when not running', () => {
    render(false, 'running');
    expect(button()).toBeNull();
    render(true, 'starting');
    expect(button()).toBeNull();
  });
});

describe('ProfilePicker broken and unavailable profiles', () => {
  it('disables them and shows why', () => {
    const broken = {
      ...profile('broken', 'user'),
      error: 'options.x: not allowed'
    };
    act(() =>
      dom.root.render(
        <ProfilePicker
          backends={[backend('local'), backend('sge', false)]}
          profiles={[broken, profile('grid', 'site', 'sge')]}
          selection=""
          onSelect={() => undefined}
        />
      )
    );
    const radio = (v: string) =>
      dom.container.querySelector(
        `[data-testid="dcl-choice-${v.replace(':', '-')}"]`
      ) as HTMLInputElement;
    expect(radio('profile:broken').disabled).toBe(true);
    expect(radio('profile:broken').closest('label')!.title).toBe(
      'options.x: not allowed'
    );
    expect(radio('profile:grid').disabled).toBe(true);
    expect(radio('profile:grid').closest('label')!.textContent).toContain(
      'sge commands not found'
    );
  });
});

describe('ProfileActions', () => {
  function fakeModel(overrides: Partial<ClusterModel> = {}): ClusterModel {
    return {
      saveProfile: jest.fn(async (request: any) => ({
        ...profile(request.name, 'user'),
        title: request.title
      })),
      deleteProfile: jest.fn(async () => undefined),
      ...overrides
    } as any;
  }
  const type = (id: string, value: string) =>
    typeInto(byTestId(id) as HTMLInputElement, value);

  it('saves the form as a new profile and selects it', async () => {
    const model = fakeModel();
    const onSaved = jest.fn();
    act(() =>
      dom.root.render(
        <ProfileActions
          model={model}
          profile={profile('local', 'builtin')}
          backend="local"
          options={{ threads_per_worker: 2 }}
          scaling={{ workers: 3 }}
          onSaved={onSaved}
          onDeleted={() => undefined}
        />
      )
    );
    // Built-in profiles are read-only.
    expect(byTestId('dcl-profile-update')).toBeNull();
    expect(byTestId('dcl-profile-delete')).toBeNull();
    act(() => byTestId('dcl-profile-save-as')!.click());
    type('dcl-profile-name', 'mine');
    type('dcl-profile-title', 'Mine');
    await act(async () => byTestId('dcl-profile-save')!.click());
    expect(model.saveProfile).toHaveBeenCalledWith({
      name: 'mine',
      title: 'Mine',
      description: null,
      backend: 'local',
      options: { threads_per_worker: 2 },
      scaling: { workers: 3 }
    });
    expect(onSaved).toHaveBeenCalledWith('mine');
    expect(byTestId('dcl-profile-editor')).toBeNull();
  });

  it('shows the server error naming the field', async () => {
    const model = fakeModel({
      saveProfile: jest.fn(async () => {
        throw new APIError('name: "local" is a built-in profile', 409, 'name');
      }) as any
    });
    act(() =>
      dom.root.render(
        <ProfileActions
          model={model}
          profile={null}
          backend="local"
          options={{}}
          scaling={{ workers: 1 }}
          onSaved={() => undefined}
          onDeleted={() => undefined}
        />
      )
    );
    act(() => byTestId('dcl-profile-save-as')!.click());
    type('dcl-profile-name', 'local');
    await act(async () => byTestId('dcl-profile-save')!.click());
    expect(byTestId('dcl-profile-error')!.textContent).toBe(
      'name: "local" is a built-in profile'
    );
    expect(byTestId('dcl-profile-name')!.className).toContain(
      'dcl-mod-invalid'
    );
    expect(byTestId('dcl-profile-editor')).not.toBeNull();
  });

  it('updates and, once confirmed, deletes a user profile', async () => {
    const model = fakeModel();
    const onDeleted = jest.fn();
    const confirm = jest
      .fn()
      .mockResolvedValueOnce(false)
      .mockResolvedValueOnce(true);
    act(() =>
      dom.root.render(
        <ProfileActions
          model={model}
          profile={{ ...profile('mine', 'user'), title: 'Mine' }}
          backend="local"
          options={{ n: 1 }}
          scaling={{ adapt: { minimum: 0, maximum: 2 } }}
          onSaved={() => undefined}
          onDeleted={onDeleted}
          confirm={confirm}
        />
      )
    );
    await act(async () => byTestId('dcl-profile-update')!.click());
    expect(model.saveProfile).toHaveBeenCalledWith(
      {
        name: 'mine',
        title: 'Mine',
        description: null,
        backend: 'local',
        options: { n: 1 },
        scaling: { adapt: { minimum: 0, maximum: 2 } }
      },
      'mine'
    );
    await act(async () => byTestId('dcl-profile-delete')!.click());
    expect(model.deleteProfile).not.toHaveBeenCalled();
    await act(async () => byTestId('dcl-profile-delete')!.click());
    expect(model.deleteProfile).toHaveBeenCalledWith('mine');
    expect(onDeleted).toHaveBeenCalled();
  });
});
