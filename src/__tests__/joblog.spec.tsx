import React, { act } from 'react';
import { ClusterCard, IClusterActions } from '../components/ClusterCard';
import { JobLog, JobLogPanel } from '../components/JobLog';
import { APIError } from '../request';
import { translationBundle } from '../translation';
import { ICluster, IJobLog } from '../types';
import { freshReactRoot, noClusterActions } from './reactHarness';

const cluster: ICluster = {
  id: 'c1',
  name: 'one',
  backend: 'slurm',
  profile: null,
  state: 'running',
  error: null,
  scheduler_address: 'tcp://10.0.0.1:8786',
  dashboard_link: null,
  dashboard_url: null,
  scaling: { workers: 1 },
  workers: [
    {
      name: 'w-0',
      address: 'tcp://10.0.0.2:1',
      host: 'node1',
      nthreads: 1,
      memory_limit: 1024 ** 3,
      status: 'running',
      job_id: '101'
    }
  ],
  jobs: [
    { job_id: '101', state: 'RUNNING', reason: null },
    { job_id: '102', state: 'PENDING', reason: 'Resources' }
  ],
  created: '2026-01-01T00:00:00Z'
};

const log101: IJobLog = {
  job_id: '101',
  files: [
    { path: '/home/a/dask-worker-101.out', text: '' },
    {
      path: '/home/a/dask-worker-101.err',
      text: 'distributed.nanny - INFO - Start worker at tcp://10.0.0.2:1\n'
    }
  ]
};

const dom = freshReactRoot();

const byTestId = (id: string, scope: ParentNode = dom.container) =>
  scope.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;

/** The row of a batch job (pending jobs are listed first, grouped by reason). */
const jobRow = (jobId: string) =>
  dom.container.querySelector(`.dcl-JobRow[data-job-id="${jobId}"]`)!;

async function renderExpanded(a: IClusterActions): Promise<void> {
  act(() =>
    dom.root.render(<ClusterCard cluster={cluster} actions={a} baseUrl="/" />)
  );
  act(() => byTestId('dcl-expand')!.click());
}

async function renderLog(
  load: (jobId: string) => Promise<IJobLog>,
  refreshInterval = 0
): Promise<void> {
  await act(async () =>
    dom.root.render(
      <JobLog jobId="101" load={load} refreshInterval={refreshInterval} />
    )
  );
}

describe('Job output from the cluster card', () => {
  it("opens a job's output from its Log button and from a worker's job id", async () => {
    const openJobLog = jest.fn();
    await renderExpanded(noClusterActions({ openJobLog }));
    expect(dom.container.querySelectorAll('.dcl-JobRow')).toHaveLength(2);
    act(() => byTestId('dcl-job-log-button', jobRow('102'))!.click());
    expect(openJobLog).toHaveBeenLastCalledWith('c1', '102');
    act(() => byTestId('dcl-worker-job-log')!.click());
    expect(openJobLog).toHaveBeenLastCalledWith('c1', '101');
    // the output opens in the main area, not inside the narrow card
    expect(byTestId('dcl-job-log')).toBeNull();
  });

  it('offers no Log buttons without an openJobLog action', async () => {
    await renderExpanded(noClusterActions());
    expect(dom.container.querySelectorAll('.dcl-JobRow')).toHaveLength(2);
    expect(byTestId('dcl-job-log-button')).toBeNull();
    expect(byTestId('dcl-worker-job-log')).toBeNull();
    expect(
      dom.container.querySelector('.dcl-WorkerRow')!.textContent
    ).toContain('101');
  });
});

describe('A job log', () => {
  afterEach(() => jest.useRealTimers());

  it('shows the files, says which are empty, and refreshes', async () => {
    const load = jest.fn(async () => log101);
    await renderLog(load);
    expect(load).toHaveBeenCalledWith('101');
    const panel = byTestId('dcl-job-log')!;
    expect(panel.getAttribute('data-job-id')).toBe('101');
    const files = panel.querySelectorAll('[data-testid="dcl-job-log-file"]');
    expect(files).toHaveLength(2);
    expect(files[0].textContent).toContain('dask-worker-101.out');
    expect(files[0].textContent).toContain('empty');
    expect(files[1].querySelector('pre')!.textContent).toContain(
      'Start worker'
    );
    await act(async () => byTestId('dcl-job-log-refresh')!.click());
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('follows the files while shown, and stops at an error', async () => {
    jest.useFakeTimers();
    let lines = 'first\n';
    const load = jest.fn(async (): Promise<IJobLog> => {
      if (load.mock.calls.length > 2) {
        throw new APIError("cluster 'one' has no batch job '101'", 404);
      }
      return {
        job_id: '101',
        files: [{ path: '/home/a/dask-worker-101.err', text: lines }]
      };
    });
    await renderLog(load, 1000);
    expect(byTestId('dcl-job-log')!.textContent).toContain('first');
    lines += 'second\n';
    await act(async () => jest.advanceTimersByTime(1000));
    expect(load).toHaveBeenCalledTimes(2);
    expect(byTestId('dcl-job-log')!.textContent).toContain('second');
    await act(async () => jest.advanceTimersByTime(1000));
    expect(byTestId('dcl-job-log-error')!.textContent).toContain(
      'no batch job'
    );
    await act(async () => jest.advanceTimersByTime(5000));
    expect(load).toHaveBeenCalledTimes(3);
  });

  it('is a main-area tab titled with the job id, one per job', () => {
    const panel = new JobLogPanel({
      clusterId: 'c1',
      clusterName: 'one',
      jobId: '101',
      load: async () => log101,
      trans: translationBundle()
    });
    expect(panel.title.label).toBe('Job 101 log');
    expect(panel.title.caption).toContain('one');
    expect(panel.id).toBe(JobLogPanel.widgetId('c1', '101'));
    expect(JobLogPanel.widgetId('c1', '102')).not.toBe(panel.id);
    panel.dispose();
  });
});
