import React, { act } from 'react';
import { ClusterCard, IClusterActions } from '../components/ClusterCard';
import { APIError } from '../request';
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

describe('Job output on the cluster card', () => {
  it("shows a job's files from a Log button, refreshes and closes", async () => {
    const jobLog = jest.fn(async () => log101);
    await renderExpanded(noClusterActions({ jobLog }));
    const rows = dom.container.querySelectorAll('.dcl-JobRow');
    expect(rows).toHaveLength(2);
    expect(byTestId('dcl-job-log')).toBeNull();

    await act(async () =>
      byTestId('dcl-job-log-button', jobRow('101'))!.click()
    );
    expect(jobLog).toHaveBeenCalledWith('c1', '101');
    const panel = byTestId('dcl-job-log')!;
    expect(panel.getAttribute('data-job-id')).toBe('101');
    const files = panel.querySelectorAll('[data-testid="dcl-job-log-file"]');
    expect(files).toHaveLength(2);
    expect(files[0].textContent).toContain('dask-worker-101.out');
    expect(files[0].querySelector('pre')).toBeNull();
    expect(files[1].querySelector('pre')!.textContent).toContain(
      'Start worker'
    );

    await act(async () => byTestId('dcl-job-log-refresh')!.click());
    expect(jobLog).toHaveBeenCalledTimes(2);

    act(() => byTestId('dcl-job-log-close')!.click());
    expect(byTestId('dcl-job-log')).toBeNull();
  });

  it("says when a file is not written yet, and opens from a worker's job id", async () => {
    const jobLog = jest.fn(
      async (_: string, jobId: string): Promise<IJobLog> => ({
        job_id: jobId,
        files: [{ path: `/home/a/dask-worker-${jobId}.err`, text: null }]
      })
    );
    await renderExpanded(noClusterActions({ jobLog }));
    await act(async () => byTestId('dcl-worker-job-log')!.click());
    expect(jobLog).toHaveBeenCalledWith('c1', '101');
    expect(byTestId('dcl-job-log')!.textContent).toContain('not written yet');

    // Another job's Log button switches the panel to that job.
    await act(async () =>
      byTestId('dcl-job-log-button', jobRow('102'))!.click()
    );
    expect(jobLog).toHaveBeenLastCalledWith('c1', '102');
    expect(byTestId('dcl-job-log')!.getAttribute('data-job-id')).toBe('102');
    expect(byTestId('dcl-job-log')!.textContent).toContain(
      'dask-worker-102.err'
    );
  });

  it("shows the server's error for an unknown job", async () => {
    const jobLog = jest.fn(async () => {
      throw new APIError("cluster 'one' has no batch job '101'", 404);
    });
    await renderExpanded(noClusterActions({ jobLog }));
    await act(async () => byTestId('dcl-job-log-button')!.click());
    expect(byTestId('dcl-job-log-error')!.textContent).toContain(
      'no batch job'
    );
  });

  it('offers no Log buttons without a jobLog action', async () => {
    await renderExpanded(noClusterActions());
    expect(dom.container.querySelectorAll('.dcl-JobRow')).toHaveLength(2);
    expect(byTestId('dcl-job-log-button')).toBeNull();
    expect(byTestId('dcl-worker-job-log')).toBeNull();
    expect(
      dom.container.querySelector('.dcl-WorkerRow')!.textContent
    ).toContain('101');
  });
});
