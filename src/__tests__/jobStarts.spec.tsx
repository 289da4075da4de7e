/**
 * What a card shows while a cluster starts (its step) and of batch jobs that
 * ended before their worker joined (exit code, the error line of the log).
 */
import React, { act } from 'react';
import { groupJobs, jobCategory, jobEnded } from '../clusterStates';
import { ClusterCard } from '../components/ClusterCard';
import { ICluster, IJob } from '../types';
import * as fixtures from './fixtures';
import { freshReactRoot, noClusterActions } from './reactHarness';

const dom = freshReactRoot();
const ERROR = "ValueError: 'ib0' is not a valid network interface";

const crashed: IJob = {
  job_id: '13',
  state: 'FAILED',
  reason: 'NonZeroExitCode',
  host: 'node1',
  time_left: null,
  exit_code: 1,
  error: ERROR
};
const forgotten: IJob = {
  ...crashed,
  job_id: '14',
  state: 'ENDED',
  reason: null,
  exit_code: null
};
const pending: IJob = { job_id: '15', state: 'PENDING', reason: 'Priority' };
const running: IJob = { job_id: '16', state: 'RUNNING', reason: null };

function renderCard(overrides: Partial<ICluster>): void {
  const cluster = fixtures.cluster({ backend: 'slurm', ...overrides });
  act(() =>
    dom.root.render(
      <ClusterCard
        cluster={cluster}
        actions={{
          ...noClusterActions(),
          openJobLog: () => undefined
        }}
        baseUrl="/"
      />
    )
  );
}

const byTestId = (id: string) =>
  dom.container.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;

describe('a starting cluster', () => {
  it('says the step it is at, and not once it runs', () => {
    const phase = 'scheduler up, waiting for workers';
    renderCard({ state: 'starting', phase });
    expect(byTestId('dcl-state')!.textContent).toBe('starting');
    expect(byTestId('dcl-phase')!.textContent).toBe(phase);
    renderCard({ state: 'running', phase: null });
    expect(byTestId('dcl-phase')).toBeNull();
  });
});

describe('jobs that ended before their worker joined', () => {
  it('count as ended errors and come after the live jobs', () => {
    expect(jobEnded(crashed) && jobEnded(forgotten)).toBe(true);
    expect(jobEnded(running) || jobEnded(pending)).toBe(false);
    expect(jobCategory('ENDED')).toBe('error');
    const groups = groupJobs([crashed, running, forgotten, pending]);
    expect(groups.others.map(j => j.job_id)).toEqual(['16', '13', '14']);
  });

  it('show their exit code, the error line of their log and a Log button', () => {
    renderCard({
      state: 'failed',
      error: `${ERROR} (all 2 batch jobs ended before a worker joined; the log of job 14 has the rest)`,
      jobs: [crashed, forgotten]
    });
    act(() => byTestId('dcl-expand')!.click());
    const rows = Array.from(dom.container.querySelectorAll('.dcl-JobRow'));
    expect(rows.map(r => r.getAttribute('data-job-state'))).toEqual([
      'FAILED',
      'ENDED'
    ]);
    const [first, second] = rows.map(r => r.querySelectorAll('td'));
    expect(first[1].textContent).toBe('FAILED · exit 1');
    expect(first[2].textContent).toBe(`NonZeroExitCode${ERROR}`);
    expect(second[1].textContent).toBe('ENDED');
    expect(
      rows[1].querySelector('[data-testid="dcl-job-error"]')!.textContent
    ).toBe(ERROR);
    expect(
      rows.every(r => r.querySelector('[data-testid="dcl-job-log-button"]'))
    ).toBe(true);
    expect(byTestId('dcl-cluster-error')!.textContent).toContain(ERROR);
  });
});
