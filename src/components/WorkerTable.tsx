import React from 'react';
import { formatBytes, formatTimeLeft } from '../format';
import { useTrans } from '../translation';
import { IJob, IWorker } from '../types';

/** A job id that opens the job's output, or plain text without `onShowLog`. */
function JobLink(props: {
  jobId: string | null;
  onShowLog?: (jobId: string) => void;
}): JSX.Element | null {
  const { jobId, onShowLog } = props;
  const trans = useTrans();
  if (!jobId) {
    return null;
  }
  if (!onShowLog) {
    return <>{jobId}</>;
  }
  return (
    <button
      className="dcl-LinkButton"
      data-testid="dcl-worker-job-log"
      title={trans.__('Show the output of job %1', jobId)}
      onClick={() => onShowLog(jobId)}
    >
      {jobId}
    </button>
  );
}

/**
 * The workers of a cluster, one row each, compact enough for a narrow sidebar:
 * name and host on one line, threads, memory and status on a second one, and
 * the batch job id (when a worker has one) in a narrow last column.
 */
export function WorkerTable(props: {
  workers: IWorker[];
  /** Show a batch job's output (the job id becomes a link). */
  onShowLog?: (jobId: string) => void;
}): JSX.Element {
  const { workers, onShowLog } = props;
  const trans = useTrans();
  if (workers.length === 0) {
    return <p className="dcl-Empty">{trans.__('No workers yet.')}</p>;
  }
  const withJobs = workers.some(w => w.job_id);
  return (
    <table className="dcl-Table dcl-WorkerTable" data-testid="dcl-workers">
      <thead>
        <tr>
          <th>{trans.__('Worker')}</th>
          {withJobs && <th className="dcl-WorkerRow-job">{trans.__('Job')}</th>}
        </tr>
      </thead>
      <tbody>
        {workers.map(w => (
          <tr
            key={w.address || w.name}
            className="dcl-WorkerRow"
            data-worker-name={w.name}
            data-job-id={w.job_id ?? undefined}
            data-worker-status={w.status}
            title={w.address}
          >
            <td className="dcl-WorkerRow-main">
              <div className="dcl-WorkerRow-line">
                <span className="dcl-WorkerRow-name">{w.name}</span>{' '}
                <span className="dcl-WorkerRow-host">{w.host}</span>
              </div>
              <div className="dcl-WorkerRow-line dcl-WorkerRow-detail">
                <span>{trans._n('%1 thread', '%1 threads', w.nthreads)}</span>
                {' · '}
                <span title={trans.__('Memory limit')}>
                  {formatBytes(w.memory_limit)}
                </span>
                {' · '}
                <span className={`dcl-WorkerRow-status dcl-mod-${w.status}`}>
                  {w.status}
                </span>
              </div>
            </td>
            {withJobs && (
              <td className="dcl-WorkerRow-job">
                <JobLink jobId={w.job_id} onShowLog={onShowLog} />
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Batch jobs of a cluster with the reason a job is pending. */
export function JobTable(props: {
  jobs: IJob[];
  /** Show a job's output: adds a Log button to each row. */
  onShowLog?: (jobId: string) => void;
  /** The job whose output is shown. */
  shownJob?: string | null;
}): JSX.Element | null {
  const { jobs, onShowLog, shownJob } = props;
  const trans = useTrans();
  if (jobs.length === 0) {
    return null;
  }
  return (
    <table className="dcl-Table dcl-JobTable" data-testid="dcl-jobs">
      <thead>
        <tr>
          <th>{trans.__('Job')}</th>
          <th>{trans.__('State')}</th>
          <th>{trans.__('Reason')}</th>
          {onShowLog && <th aria-label={trans.__('Output')} />}
        </tr>
      </thead>
      <tbody>
        {jobs.map(j => (
          <tr
            key={j.job_id}
            className="dcl-JobRow"
            data-job-id={j.job_id}
            data-job-state={j.state}
          >
            <td className="dcl-JobRow-id">{j.job_id}</td>
            <td className="dcl-JobRow-state">
              {j.state}
              {typeof j.time_left === 'number' && (
                <span className="dcl-JobRow-left">
                  {' · '}
                  {formatTimeLeft(j.time_left, trans)}
                </span>
              )}
            </td>
            <td className="dcl-JobRow-reason">{j.reason ?? ''}</td>
            {onShowLog && (
              <td className="dcl-JobRow-output">
                <button
                  className="jp-mod-styled dcl-JobRow-log"
                  data-testid="dcl-job-log-button"
                  aria-pressed={shownJob === j.job_id}
                  title={trans.__(
                    'Show the stdout and stderr of job %1',
                    j.job_id
                  )}
                  onClick={() => onShowLog(j.job_id)}
                >
                  {trans.__('Log')}
                </button>
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
