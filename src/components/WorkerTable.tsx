import { HTMLSelect, InputGroup, searchIcon } from '@jupyterlab/ui-components';
import React from 'react';
import { workerStates } from '../clusterStates';
import { formatBytes, formatCount } from '../format';
import {
  DEFAULT_SORT,
  filterWorkers,
  isFiltered,
  IWorkerFilter,
  IWorkerSort,
  nextSort,
  NO_FILTER,
  sortWorkers,
  usePage,
  WorkerSortKey
} from '../tableView';
import { useTrans } from '../translation';
import { IWorker } from '../types';
import { Pager } from './Pager';

/** A job id that opens the job's output, or plain text without `onShowLog`. */
export function JobLink(props: {
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

/** A column header that sorts by its key; `aria-sort` says how. */
function SortHeader(props: {
  column: WorkerSortKey;
  label: string;
  sort: IWorkerSort | null;
  onSort: (column: WorkerSortKey) => void;
  className?: string;
  colSpan?: number;
  rowSpan?: number;
}): JSX.Element {
  const { column, label, sort, onSort } = props;
  const trans = useTrans();
  const direction = sort?.key === column ? sort.direction : undefined;
  return (
    <th
      className={props.className}
      colSpan={props.colSpan}
      rowSpan={props.rowSpan}
      aria-sort={direction}
    >
      <button
        className="dcl-SortButton"
        data-testid={`dcl-sort-${column}`}
        title={trans.__('Sort by %1', label)}
        onClick={() => onSort(column)}
      >
        {label}
        <span className="dcl-SortButton-arrow" aria-hidden="true">
          {direction === 'ascending'
            ? '▲'
            : direction === 'descending'
              ? '▼'
              : ''}
        </span>
      </button>
    </th>
  );
}

/**
 * One worker: name and host on one line, threads, memory and status on a
 * second one (one cell under the headers of both lines, so a narrow sidebar
 * fits it), and the batch job id in a narrow last column. Memoised: a patch
 * replaces only the rows that changed, so the others are not rendered again.
 */
function WorkerRowView(props: {
  worker: IWorker;
  withJobs: boolean;
  rowIndex: number;
  onShowLog?: (jobId: string) => void;
}): JSX.Element {
  const { worker: w, withJobs, onShowLog } = props;
  const trans = useTrans();
  return (
    <tr
      className="dcl-WorkerRow"
      aria-rowindex={props.rowIndex}
      data-worker-name={w.name}
      data-job-id={w.job_id ?? undefined}
      data-worker-status={w.status}
      title={w.address}
    >
      <td className="dcl-WorkerRow-main" colSpan={3}>
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
  );
}

const WorkerRow = React.memo(WorkerRowView);

/** The text and state filters above the table (shown from two workers on). */
function WorkerFilterBar(props: {
  workers: IWorker[];
  filter: IWorkerFilter;
  onChange: (filter: IWorkerFilter) => void;
}): JSX.Element {
  const { workers, filter, onChange } = props;
  const trans = useTrans();
  const states = React.useMemo(() => workerStates(workers), [workers]);
  // The chosen state stays offered while no worker has it, so the choice
  // survives a worker leaving.
  const options = states.map(s => ({
    value: s.key,
    label: `${s.key} (${formatCount(s.count)})`
  }));
  if (filter.status && !states.some(s => s.key === filter.status)) {
    options.push({ value: filter.status, label: `${filter.status} (0)` });
  }
  return (
    <div className="dcl-WorkerFilter">
      <InputGroup
        className="dcl-WorkerFilter-text"
        type="text"
        data-testid="dcl-worker-filter"
        aria-label={trans.__('Filter workers by name, host or job')}
        placeholder={trans.__('Name, host, job')}
        value={filter.text}
        rightIcon={searchIcon}
        onChange={e => onChange({ ...filter, text: e.target.value })}
      />
      <HTMLSelect
        className="dcl-WorkerFilter-state"
        data-testid="dcl-worker-state-filter"
        aria-label={trans.__('Show workers in state')}
        value={filter.status}
        options={[
          {
            value: '',
            label: trans.__('All states (%1)', formatCount(workers.length))
          },
          ...options
        ]}
        onChange={e => onChange({ ...filter, status: e.target.value })}
      />
    </div>
  );
}

/**
 * The workers of a cluster, one page at a time (a cluster of 1,000 workers
 * puts 50 rows in the DOM), sorted by name or by the column header clicked,
 * filtered by state and by text in the name, host or job id. The sort, filter
 * and page are the table's own state: they stay as live updates patch the
 * rows.
 */
export function WorkerTable(props: {
  workers: IWorker[];
  /** Show a batch job's output (the job id becomes a link). */
  onShowLog?: (jobId: string) => void;
}): JSX.Element {
  const { workers, onShowLog } = props;
  const trans = useTrans();
  const [sort, setSort] = React.useState<IWorkerSort | null>(DEFAULT_SORT);
  const [filter, setFilter] = React.useState<IWorkerFilter>(NO_FILTER);
  const shown = React.useMemo(
    () => sortWorkers(filterWorkers(workers, filter), sort),
    [workers, filter, sort]
  );
  const page = usePage(shown.length);
  const filtered = isFiltered(filter);

  if (workers.length === 0 && !filtered) {
    return <p className="dcl-Empty">{trans.__('No workers yet.')}</p>;
  }
  const withJobs = workers.some(w => w.job_id);
  const onSort = (column: WorkerSortKey) => {
    setSort(nextSort(sort, column));
    page.first();
  };
  const onFilter = (next: IWorkerFilter) => {
    setFilter(next);
    page.first();
  };
  const header = (
    column: WorkerSortKey,
    label: string,
    span: { className?: string; colSpan?: number; rowSpan?: number } = {}
  ) => (
    <SortHeader
      column={column}
      label={label}
      sort={sort}
      onSort={onSort}
      {...span}
    />
  );

  return (
    <div className="dcl-WorkerTable-box">
      {(workers.length > 1 || filtered) && (
        <WorkerFilterBar
          workers={workers}
          filter={filter}
          onChange={onFilter}
        />
      )}
      {filtered && (
        <div className="dcl-WorkerFilter-count" data-testid="dcl-worker-count">
          {trans.__(
            '%1 of %2 workers',
            formatCount(shown.length),
            formatCount(workers.length)
          )}{' '}
          <button
            className="dcl-LinkButton"
            data-testid="dcl-worker-filter-clear"
            onClick={() => onFilter(NO_FILTER)}
          >
            {trans.__('show all')}
          </button>
        </div>
      )}
      <table
        className="dcl-Table dcl-WorkerTable"
        data-testid="dcl-workers"
        aria-label={trans.__('Workers')}
        aria-rowcount={shown.length + 2}
      >
        {/*
         * Two header rows laid out as each worker's two lines (name, host;
         * threads, memory, state): every column a header to sort by, and the
         * headers fit a sidebar as narrow as the rows do.
         */}
        <thead>
          <tr aria-rowindex={1} className="dcl-WorkerTable-firstHeader">
            {header('name', trans.__('Name'))}
            {header('host', trans.__('Host'), { colSpan: 2 })}
            {withJobs &&
              header('job', trans.__('Job'), {
                className: 'dcl-WorkerRow-job',
                rowSpan: 2
              })}
          </tr>
          <tr aria-rowindex={2}>
            {header('threads', trans.__('Threads'))}
            {header('memory', trans.__('Memory'))}
            {header('status', trans.__('State'), {
              className: 'dcl-WorkerTable-lastHeader'
            })}
          </tr>
        </thead>
        <tbody>
          {shown.slice(page.start, page.end).map((w, i) => (
            <WorkerRow
              key={w.address || w.name}
              worker={w}
              withJobs={withJobs}
              rowIndex={page.start + i + 3}
              onShowLog={onShowLog}
            />
          ))}
          {shown.length === 0 && (
            <tr>
              <td className="dcl-Empty" colSpan={withJobs ? 4 : 3}>
                {trans.__('No worker matches the filter.')}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager page={page} label={trans.__('workers')} />
    </div>
  );
}
