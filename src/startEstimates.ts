/**
 * When pending work may start, as the batch system estimates it: a pending
 * job's `estimated_start` (SLURM's backfill scheduler, PBS Pro), the earliest
 * of a group of jobs waiting for one reason, and the launch form's estimate
 * for the job as asked (`sbatch --test-only`, in the preview's answer; see
 * dask_cluster_launcher/backends/batch/start_estimates.py).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { jobCategory, pendingReason } from './clusterStates';
import { IJob } from './types';

/** The earliest estimate of these jobs (ISO 8601), or null when none has one. */
export function earliestStart(jobs: IJob[]): string | null {
  let earliest: string | null = null;
  let earliestMs = Infinity;
  for (const job of jobs) {
    const ms = job.estimated_start ? Date.parse(job.estimated_start) : NaN;
    if (ms < earliestMs) {
      earliest = job.estimated_start ?? null;
      earliestMs = ms;
    }
  }
  return earliest;
}

/** Pending jobs' earliest estimate per pending reason (only reasons with one). */
export function startsByReason(jobs: IJob[]): Map<string, string> {
  const groups = new Map<string, IJob[]>();
  for (const job of jobs) {
    if (job.estimated_start && jobCategory(job.state) === 'pending') {
      const reason = pendingReason(job);
      groups.set(reason, [...(groups.get(reason) ?? []), job]);
    }
  }
  const starts = new Map<string, string>();
  for (const [reason, group] of groups) {
    const start = earliestStart(group);
    if (start) {
      starts.set(reason, start);
    }
  }
  return starts;
}

const two = (n: number) => String(n).padStart(2, '0');

/**
 * A start time in the browser's zone: "14:05" today, "2026-12-08 14:05" on
 * another day (24-hour clock: the same in every locale); null if unreadable.
 */
export function formatStartTime(iso: string, now = new Date()): string | null {
  const ms = Date.parse(iso);
  if (isNaN(ms)) {
    return null;
  }
  const at = new Date(ms);
  const clock = `${two(at.getHours())}:${two(at.getMinutes())}`;
  const sameDay =
    at.getFullYear() === now.getFullYear() &&
    at.getMonth() === now.getMonth() &&
    at.getDate() === now.getDate();
  if (sameDay) {
    return clock;
  }
  const date = `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}`;
  return `${date} ${clock}`;
}

/** "may start ~14:05", or null when there is no estimate. */
export function mayStart(
  iso: string | null | undefined,
  trans: TranslationBundle,
  now?: Date
): string | null {
  const time = iso ? formatStartTime(iso, now) : null;
  return time ? trans.__('may start ~%1', time) : null;
}
