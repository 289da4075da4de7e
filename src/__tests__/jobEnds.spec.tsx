/**
 * Why a job ended (the job rows' `end`, from the batch system's accounting):
 * on the card's job row, and in one notification per poll's unexpected ends.
 */
import { Notification } from '@jupyterlab/apputils';
import React, { act } from 'react';
import { ClusterCard } from '../components/ClusterCard';
import { JobEndNotices, jobEndNotice } from '../jobEnds';
import { translationBundle } from '../translation';
import { ICluster, IJob } from '../types';
import * as fixtures from './fixtures';
import { freshReactRoot, noClusterActions } from './reactHarness';

const dom = freshReactRoot();
const trans = translationBundle();

const timedOut = (jobId: string): IJob => ({
  job_id: jobId,
  state: 'TIMEOUT',
  reason: null,
  host: null,
  time_left: null,
  exit_code: 0,
  error: null,
  end: {
    state: 'TIMEOUT',
    reason: 'reached its walltime (00:01:00)',
    exit_code: 0,
    ended_at: '2026-12-07T03:11:05+00:00'
  }
});

describe('a job that ended', () => {
  it('shows why on its row and keeps its Log button', () => {
    const cluster = fixtures.cluster({
      backend: 'slurm',
      jobs: [timedOut('41'), { job_id: '42', state: 'RUNNING', reason: null }]
    });
    act(() =>
      dom.root.render(
        <ClusterCard
          cluster={cluster}
          actions={{ ...noClusterActions(), openJobLog: () => undefined }}
          baseUrl="/"
        />
      )
    );
    act(() =>
      (
        dom.container.querySelector('[data-testid="dcl-expand"]') as HTMLElement
      ).click()
    );
    const row = dom.container.querySelector('[data-job-id="41"]')!;
    const end = row.querySelector('[data-testid="dcl-job-end"]')!;
    expect(end.textContent).toBe('reached its walltime (00:01:00)');
    expect(end.getAttribute('data-end-state')).toBe('TIMEOUT');
    expect(
      row.querySelector('[data-testid="dcl-job-log-button"]')
    ).toBeTruthy();
    const live = dom.container.querySelector('[data-job-id="42"]')!;
    expect(live.querySelector('[data-testid="dcl-job-end"]')).toBeNull();
  });

  it('is announced once, grouped by reason, "replacing" while it runs', () => {
    const cluster = fixtures.cluster({
      name: 'big',
      state: 'running',
      scaling: { adapt: { minimum: 1, maximum: 4 } }
    });
    expect(jobEndNotice(cluster, [timedOut('1'), timedOut('2')], trans)).toBe(
      "big: 2 workers' jobs reached the walltime (00:01:00); replacing"
    );
    expect(jobEndNotice(cluster, [], trans)).toBeNull();
    // a fixed size: its host submits a job in place of the one that ended
    expect(
      jobEndNotice(
        { ...cluster, scaling: { workers: 1 } },
        [timedOut('1')],
        trans
      )
    ).toBe("big: 1 worker's job reached the walltime (00:01:00); replacing");
    // scaled to 0: nothing replaces it
    expect(
      jobEndNotice(
        { ...cluster, scaling: { workers: 0 } },
        [timedOut('1')],
        trans
      )
    ).toBe("big: 1 worker's job reached the walltime (00:01:00)");

    const clusters = new Map<string, ICluster>();
    const changed = { connect: jest.fn(), disconnect: jest.fn() };
    const model = { clusters, clustersChanged: changed } as any;
    const warning = jest.spyOn(Notification, 'warning');
    clusters.set(cluster.id, { ...cluster, jobs: [timedOut('1')] });
    const notices = new JobEndNotices({ model, trans, openJobLog: jest.fn() });
    expect(warning).not.toHaveBeenCalled(); // there before: no news
    const onChanged = changed.connect.mock.calls[0][0].bind(notices);
    clusters.set(cluster.id, {
      ...cluster,
      jobs: [timedOut('1'), timedOut('2')]
    });
    onChanged();
    onChanged();
    // a failed start's jobs: its own notification says why
    const failed = { ...cluster, id: 'other', state: 'failed' as const };
    clusters.set('other', { ...failed, jobs: [timedOut('3')] });
    onChanged();
    expect(warning).toHaveBeenCalledTimes(1);
    expect(warning.mock.calls[0][0]).toBe(
      "big: 1 worker's job reached the walltime (00:01:00); replacing"
    );
  });
});
