/**
 * Counting a cluster's workers and batch jobs by state, for the card's
 * at-a-glance lines and the tables' groups (pure: no React, no translation).
 *
 * Job states come from the resource manager: SLURM's squeue names them
 * (PENDING, RUNNING, CONFIGURING, ...), the SGE backend maps qstat's codes to
 * the same words (qw -> PENDING, hqw -> HELD, t -> STARTING, Eqw -> ERROR).
 * A job that ended before its worker joined stays listed with its final state
 * (FAILED, COMPLETED, ...), or ENDED where the batch system no longer says.
 */
import { IJob, IWorker } from './types';

/** What a job state means to someone waiting for workers. */
export type JobCategory =
  'running' | 'starting' | 'pending' | 'error' | 'other';

const CATEGORY_OF_STATE: Record<string, JobCategory> = {
  RUNNING: 'running',
  R: 'running',
  CONFIGURING: 'starting',
  CF: 'starting',
  STARTING: 'starting',
  PENDING: 'pending',
  PD: 'pending',
  QW: 'pending',
  HELD: 'pending',
  HQW: 'pending',
  REQUEUED: 'pending',
  REQUEUE_HOLD: 'pending',
  REQUEUE_FED: 'pending',
  RESV_DEL_HOLD: 'pending',
  ERROR: 'error',
  EQW: 'error',
  FAILED: 'error',
  F: 'error',
  NODE_FAIL: 'error',
  NF: 'error',
  BOOT_FAIL: 'error',
  BF: 'error',
  OUT_OF_MEMORY: 'error',
  OOM: 'error',
  TIMEOUT: 'error',
  TO: 'error',
  DEADLINE: 'error',
  DL: 'error',
  ENDED: 'error'
};

export function jobCategory(state: string): JobCategory {
  return CATEGORY_OF_STATE[(state || '').toUpperCase()] ?? 'other';
}

/** The final states of a batch job (the server lists a job in one only when
 * it ended before its worker joined). */
const ENDED_STATES = new Set([
  'ENDED',
  'REMOVED',
  'COMPLETED',
  'CANCELLED',
  'FAILED',
  'TIMEOUT',
  'NODE_FAIL',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'OUT_OF_MEMORY',
  'SPECIAL_EXIT',
  'REVOKED'
]);

/** Whether a job has ended (its row says why: exit code, error line). */
export function jobEnded(job: IJob): boolean {
  return ENDED_STATES.has((job.state || '').toUpperCase());
}

/**
 * What a pending job waits for: the scheduler's reason, else its state when
 * that says more than "pending" (HELD), else '' (no reason given).
 */
export function pendingReason(job: IJob): string {
  if (job.reason) {
    return job.reason;
  }
  const state = (job.state || '').toUpperCase();
  return state === 'PENDING' || state === 'PD' || state === 'QW'
    ? ''
    : job.state;
}

/** A value and how many rows have it. */
export interface ICount {
  key: string;
  count: number;
}

/** Counts by key, most frequent first (ties in first-seen order). */
export function countBy<T>(
  rows: Iterable<T>,
  key: (row: T) => string
): ICount[] {
  const counts = new Map<string, number>();
  for (const row of rows) {
    const k = key(row);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  // Array.prototype.sort is stable: equal counts keep first-seen order.
  return Array.from(counts, ([k, count]) => ({ key: k, count })).sort(
    (a, b) => b.count - a.count
  );
}

/** Workers by status, `running` first, then the most frequent. */
export function workerStates(workers: IWorker[]): ICount[] {
  const counts = countBy(workers, w => w.status || 'unknown');
  const running = counts.filter(c => c.key === 'running');
  return running.concat(counts.filter(c => c.key !== 'running'));
}

export interface IJobSummary {
  total: number;
  /** Jobs per category; every category is present (0 when none). */
  byCategory: Record<JobCategory, number>;
  /** The states counted as `other`, for a tooltip. */
  otherStates: ICount[];
  /** Pending jobs by `pendingReason`, most frequent first. */
  pendingReasons: ICount[];
}

export function summarizeJobs(jobs: IJob[]): IJobSummary {
  const byCategory: Record<JobCategory, number> = {
    running: 0,
    starting: 0,
    pending: 0,
    error: 0,
    other: 0
  };
  const pending: IJob[] = [];
  const other: IJob[] = [];
  for (const job of jobs) {
    const category = jobCategory(job.state);
    byCategory[category] += 1;
    if (category === 'pending') {
      pending.push(job);
    } else if (category === 'other') {
      other.push(job);
    }
  }
  return {
    total: jobs.length,
    byCategory,
    otherStates: countBy(other, j => j.state),
    pendingReasons: countBy(pending, pendingReason)
  };
}

/** Pending jobs grouped by reason (most jobs first), and every other job
 * (ended ones last). */
export interface IJobGroups {
  pending: { reason: string; jobs: IJob[] }[];
  others: IJob[];
}

export function groupJobs(jobs: IJob[]): IJobGroups {
  const groups = new Map<string, IJob[]>();
  const others: IJob[] = [];
  for (const job of jobs) {
    if (jobCategory(job.state) !== 'pending') {
      others.push(job);
      continue;
    }
    const reason = pendingReason(job);
    const group = groups.get(reason);
    if (group) {
      group.push(job);
    } else {
      groups.set(reason, [job]);
    }
  }
  const pending = Array.from(groups, ([reason, rows]) => ({
    reason,
    jobs: rows
  })).sort((a, b) => b.jobs.length - a.jobs.length);
  // jobs that ended before their worker joined after the live ones (a stable sort)
  others.sort((a, b) => Number(jobEnded(a)) - Number(jobEnded(b)));
  return { pending, others };
}
