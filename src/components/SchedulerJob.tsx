import React from 'react';
import { formatTimeLeft } from '../format';
import { useTrans } from '../translation';
import { ICluster } from '../types';

/** Seconds before the scheduler's walltime runs out from which the card warns. */
export const SCHEDULER_WARN_SECONDS = 15 * 60;

/**
 * Where a cluster's scheduler runs when it has a batch job of its own
 * ("Scheduler runs: in its own batch job"): the job's id and its time left,
 * in the warning colour near the end (the cluster ends with that job).
 * Nothing for a scheduler beside Jupyter.
 */
export function SchedulerJob(props: { cluster: ICluster }): JSX.Element | null {
  const { cluster } = props;
  const trans = useTrans();
  const jobId = cluster.scheduler_job;
  if (!jobId) {
    return null;
  }
  const job = cluster.jobs.find(j => j.job_id === jobId);
  const timeLeft = job?.time_left;
  const ending =
    typeof timeLeft === 'number' && timeLeft <= SCHEDULER_WARN_SECONDS;
  const left = formatTimeLeft(timeLeft, trans);
  return (
    <div
      className={ending ? 'dcl-SchedulerJob dcl-mod-warn' : 'dcl-SchedulerJob'}
      data-testid="dcl-scheduler-job"
      title={trans.__(
        'The scheduler runs in a batch job of its own: the cluster ends when that job reaches its walltime'
      )}
    >
      {trans.__('Scheduler in batch job %1', jobId)}
      {job && job.state !== 'RUNNING' ? ` (${job.state})` : ''}
      {left ? ` · ${left}` : ''}
      {ending ? ` · ${trans.__('the cluster ends with it')}` : ''}
    </div>
  );
}
