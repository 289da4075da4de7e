import React from 'react';
import { formatSize, IResourceSummary } from '../resources';
import { useTrans } from '../translation';

/** 4 -> "4.0", 1234.5 -> "1,235". */
function formatHours(hours: number): string {
  return hours < 1000
    ? hours.toFixed(1)
    : Math.round(hours).toLocaleString('en-US');
}

/**
 * What the launch asks for, as the form is filled: workers, batch jobs,
 * cores and memory in total and the most core-hours the jobs can use (for
 * adaptive scaling: at the maximum).
 */
export function ResourceSummary(props: {
  summary: IResourceSummary;
}): JSX.Element {
  const { summary } = props;
  const trans = useTrans();
  const workers = summary.adaptive
    ? trans.__('%1–%2 workers', summary.minimum ?? 0, summary.workers)
    : trans._n('%1 worker', '%1 workers', summary.workers);
  const totals: JSX.Element[] = [];
  if (summary.cores !== null) {
    totals.push(
      <span key="cores" data-testid="dcl-summary-cores">
        {summary.coresAreThreads
          ? trans._n('%1 thread', '%1 threads', summary.cores)
          : trans._n('%1 core', '%1 cores', summary.cores)}
      </span>
    );
  }
  if (summary.memory !== null) {
    totals.push(
      <span key="memory" data-testid="dcl-summary-memory">
        {formatSize(summary.memory, summary.binaryMemory)}
      </span>
    );
  }
  if (summary.coreHours !== null) {
    totals.push(
      <span
        key="core-hours"
        className="dcl-Summary-coreHours"
        data-testid="dcl-summary-core-hours"
        data-core-hours={summary.coreHours}
        title={trans.__(
          'The most the jobs can use: jobs × cores per job × walltime'
        )}
      >
        {trans.__('up to %1 core-hours', formatHours(summary.coreHours))}
      </span>
    );
  }
  const separated: JSX.Element[] = [];
  totals.forEach((part, i) => {
    if (i > 0) {
      separated.push(<React.Fragment key={`s${i}`}> · </React.Fragment>);
    }
    separated.push(part);
  });
  return (
    <div className="dcl-Summary" data-testid="dcl-summary">
      <div>
        <span className="dcl-Summary-workers" data-testid="dcl-summary-workers">
          {workers}
        </span>
        {summary.jobs !== null && (
          <>
            {summary.adaptive ? trans.__(', at most ') : trans.__(' in ')}
            <span data-testid="dcl-summary-jobs">
              {trans._n('%1 job', '%1 jobs', summary.jobs)}
            </span>
          </>
        )}
      </div>
      {separated.length > 0 && (
        <div className="dcl-Summary-totals">
          {summary.adaptive && summary.workers > 0
            ? trans.__('At the maximum: ')
            : null}
          {separated}
        </div>
      )}
    </div>
  );
}
