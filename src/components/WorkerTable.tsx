import React from 'react';
import { formatBytes } from '../format';
import { IJob, IWorker } from '../types';

/** The workers of a cluster, one row each. */
export function WorkerTable(props: { workers: IWorker[] }): JSX.Element {
  const { workers } = props;
  if (workers.length === 0) {
    return <p className="dcl-Empty">No workers yet.</p>;
  }
  return (
    <table className="dcl-Table dcl-WorkerTable" data-testid="dcl-workers">
      <thead>
        <tr>
          <th>Name</th>
          <th>Host</th>
          <th>Threads</th>
          <th>Memory</th>
          <th>Status</th>
          <th>Job</th>
        </tr>
      </thead>
      <tbody>
        {workers.map(w => (
          <tr
            key={w.address || w.name}
            className="dcl-WorkerRow"
            data-worker-name={w.name}
            title={w.address}
          >
            <td>{w.name}</td>
            <td>{w.host}</td>
            <td>{w.nthreads}</td>
            <td>{formatBytes(w.memory_limit)}</td>
            <td>{w.status}</td>
            <td>{w.job_id ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Batch jobs of a cluster with the reason a job is pending. */
export function JobTable(props: { jobs: IJob[] }): JSX.Element | null {
  const { jobs } = props;
  if (jobs.length === 0) {
    return null;
  }
  return (
    <table className="dcl-Table dcl-JobTable" data-testid="dcl-jobs">
      <thead>
        <tr>
          <th>Job</th>
          <th>State</th>
          <th>Reason</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map(j => (
          <tr key={j.job_id} className="dcl-JobRow" data-job-id={j.job_id}>
            <td>{j.job_id}</td>
            <td>{j.state}</td>
            <td>{j.reason ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
