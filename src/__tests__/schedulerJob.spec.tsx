/**
 * The card of a cluster whose scheduler runs in a batch job of its own says
 * so, with the job's id and time left, and warns near the end.
 */
import React, { act } from 'react';
import { ClusterCard } from '../components/ClusterCard';
import * as fixtures from './fixtures';
import { freshReactRoot, noClusterActions } from './reactHarness';

const dom = freshReactRoot();

function line(cluster: ReturnType<typeof fixtures.cluster>): Element | null {
  act(() =>
    dom.root.render(
      <ClusterCard cluster={cluster} actions={noClusterActions()} baseUrl="/" />
    )
  );
  return dom.container.querySelector('[data-testid="dcl-scheduler-job"]');
}

describe("the scheduler's own batch job on the card", () => {
  const jobs = [
    { job_id: '7', state: 'RUNNING', reason: null, time_left: 3000 },
    { job_id: '8', state: 'RUNNING', reason: null, time_left: 3000 }
  ];

  it('shows the job and its time left', () => {
    const shown = line(
      fixtures.cluster({ backend: 'slurm', scheduler_job: '7', jobs })
    )!;
    expect(shown.textContent).toBe('Scheduler in batch job 7 · 50m left');
    expect(shown.className).not.toContain('dcl-mod-warn');
  });

  it('warns when its walltime is about to run out', () => {
    const ending = [{ ...jobs[0], time_left: 300 }, jobs[1]];
    const shown = line(
      fixtures.cluster({ backend: 'slurm', scheduler_job: '7', jobs: ending })
    )!;
    expect(shown.className).toContain('dcl-mod-warn');
    expect(shown.textContent).toBe(
      'Scheduler in batch job 7 · 5m left · the cluster ends with it'
    );
  });

  it('says nothing for a scheduler beside Jupyter', () => {
    expect(line(fixtures.cluster({ backend: 'slurm', jobs }))).toBeNull();
  });
});
