import React from 'react';
import {
  ICount,
  JobCategory,
  summarizeJobs,
  workerStates
} from '../clusterStates';
import { clusterTotals, formatCount, formatTotals } from '../format';
import { mayStart, startsByReason } from '../startEstimates';
import { useTrans } from '../translation';
import { ICluster } from '../types';

/** Pending reasons named on the card; the rest are counted in "+N more". */
const REASONS_SHOWN = 3;

/** "4 paused", with the count formatted ("1,000 running"). */
function countOf(count: number, label: string): string {
  return `${formatCount(count)} ${label}`;
}

/**
 * A cluster at a glance, also when the card is folded: totals (workers,
 * threads, memory), then, when they say something, the workers by state
 * ("Workers: 396 running · 4 paused"), the batch jobs by state ("Jobs: 88
 * running · 312 pending · 2 in error") and why jobs are pending ("Pending:
 * Resources (232, may start ~14:05) · Priority (80)", with the earliest start
 * the batch system estimates for the group). Exact at 1,000 workers: counted from
 * every row, not from the rows a table shows.
 */
export function ClusterTotals(props: { cluster: ICluster }): JSX.Element {
  const { workers, jobs } = props.cluster;
  const trans = useTrans();
  const totals = React.useMemo(() => clusterTotals(props.cluster), [workers]);
  const states = React.useMemo(() => workerStates(workers ?? []), [workers]);
  const summary = React.useMemo(() => summarizeJobs(jobs ?? []), [jobs]);

  const workerLabels: Record<string, string> = {
    running: trans.__('running'),
    paused: trans.__('paused'),
    closing: trans.__('closing'),
    closing_gracefully: trans.__('closing gracefully'),
    init: trans.__('starting')
  };
  const jobLabels: Record<JobCategory, string> = {
    running: trans.__('running'),
    starting: trans.__('starting'),
    pending: trans.__('pending'),
    error: trans.__('in error'),
    other: trans.__('other')
  };
  const categories: JobCategory[] = [
    'running',
    'starting',
    'pending',
    'error',
    'other'
  ];
  const starts = React.useMemo(() => startsByReason(jobs ?? []), [jobs]);
  // "Resources (3, may start ~14:05)": the earliest estimate of the group
  const reasonCount = (r: ICount) => {
    const start = mayStart(starts.get(r.key), trans);
    const count = formatCount(r.count);
    return `${reasonLabel(r.key)} (${start ? `${count}, ${start}` : count})`;
  };
  const reasonLabel = (reason: string) => reason || trans.__('no reason given');
  const shownReasons = summary.pendingReasons.slice(0, REASONS_SHOWN);
  const moreReasons = summary.pendingReasons.slice(REASONS_SHOWN);
  const listed = (counts: ICount[]) =>
    counts.map(c => `${c.key} (${formatCount(c.count)})`).join(', ');

  return (
    <div className="dcl-ClusterTotals">
      <div className="dcl-totals" data-testid="dcl-totals">
        {formatTotals(totals, trans)}
      </div>
      {states.some(s => s.key !== 'running') && (
        <div
          className="dcl-ClusterTotals-detail"
          data-testid="dcl-worker-states"
        >
          {trans.__('Workers:')}{' '}
          {states.map((s, i) => (
            <React.Fragment key={s.key}>
              {i > 0 && ' · '}
              <span
                className={s.key === 'running' ? undefined : 'dcl-mod-warn'}
              >
                {countOf(s.count, workerLabels[s.key] ?? s.key)}
              </span>
            </React.Fragment>
          ))}
        </div>
      )}
      {summary.total > 0 && (
        <div className="dcl-ClusterTotals-detail" data-testid="dcl-job-states">
          {trans.__('Jobs:')}{' '}
          {categories
            .filter(c => summary.byCategory[c] > 0)
            .map((c, i) => (
              <React.Fragment key={c}>
                {i > 0 && ' · '}
                <span
                  className={c === 'error' ? 'dcl-mod-error' : undefined}
                  title={
                    c === 'other' ? listed(summary.otherStates) : undefined
                  }
                >
                  {countOf(summary.byCategory[c], jobLabels[c])}
                </span>
              </React.Fragment>
            ))}
        </div>
      )}
      {summary.byCategory.pending > 0 && (
        <div
          className="dcl-ClusterTotals-detail"
          data-testid="dcl-pending-reasons"
        >
          {trans.__('Pending:')} {shownReasons.map(reasonCount).join(' · ')}
          {moreReasons.length > 0 && (
            <span title={moreReasons.map(reasonCount).join('\n')}>
              {' · '}
              {trans._n(
                '+%2 more reason',
                '+%2 more reasons',
                moreReasons.length,
                formatCount(moreReasons.length)
              )}
            </span>
          )}
        </div>
      )}
    </div>
  );
}
