import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import React from 'react';
import { groupJobs, jobEnded } from '../clusterStates';
import { formatCount, formatTimeLeft } from '../format';
import { earliestStart, mayStart } from '../startEstimates';
import { IPage, usePage } from '../tableView';
import { useTrans } from '../translation';
import { IJob } from '../types';
import { Pager } from './Pager';

/**
 * A group of at most this many pending jobs starts unfolded: a few jobs are
 * shown as they are (two jobs waiting for resources), hundreds are folded
 * into their group row.
 */
const UNFOLDED_GROUP_SIZE = 10;

interface IJobRowProps {
  job: IJob;
  /** Show a job's output: adds a Log button to the row. */
  onShowLog?: (jobId: string) => void;
  /** This job's output is shown. */
  logShown: boolean;
}

/**
 * One batch job; memoised, so a patch renders only the rows it changed. A job
 * that ended before its worker joined shows its exit code and the error line
 * of its log (its Log button shows the rest); a job the accounting says ended
 * shows why ("reached its walltime (00:01:00)").
 */
function JobRowView(props: IJobRowProps): JSX.Element {
  const { job: j, onShowLog, logShown } = props;
  const trans = useTrans();
  const ended = jobEnded(j);
  return (
    <tr
      className={`dcl-JobRow${ended ? ' dcl-mod-ended' : ''}`}
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
        {j.estimated_start && !ended && (
          <span className="dcl-JobRow-left" data-testid="dcl-job-start">
            {' · '}
            {mayStart(j.estimated_start, trans)}
          </span>
        )}
        {typeof j.exit_code === 'number' && (
          <span className="dcl-JobRow-left" data-testid="dcl-job-exit">
            {' · '}
            {trans.__('exit %1', j.exit_code)}
          </span>
        )}
      </td>
      <td className="dcl-JobRow-reason">
        {j.end ? (
          <span
            className="dcl-JobRow-end"
            data-testid="dcl-job-end"
            data-end-state={j.end.state}
            title={trans.__(
              "Why it ended, from the batch system's accounting (%1)",
              j.end.state
            )}
          >
            {j.end.reason ?? j.end.state}
          </span>
        ) : ended && !j.error && !j.reason ? (
          trans.__('ended before its worker joined')
        ) : (
          (j.reason ?? '')
        )}
        {j.error && (
          <div
            className="dcl-JobRow-error"
            data-testid="dcl-job-error"
            title={trans.__("The last error line of the job's log")}
          >
            {j.error}
          </div>
        )}
      </td>
      {onShowLog && (
        <td className="dcl-JobRow-output">
          <button
            className="jp-mod-styled dcl-JobRow-log"
            data-testid="dcl-job-log-button"
            aria-pressed={logShown}
            title={trans.__('Show the stdout and stderr of job %1', j.job_id)}
            onClick={() => onShowLog(j.job_id)}
          >
            {trans.__('Log')}
          </button>
        </td>
      )}
    </tr>
  );
}

const JobRow = React.memo(JobRowView);

interface IRowsProps {
  onShowLog?: (jobId: string) => void;
  shownJob?: string | null;
  columns: number;
}

/** The rows of one page of jobs. */
function JobRows(
  props: IRowsProps & { jobs: IJob[]; page: IPage }
): JSX.Element {
  const { jobs, page, onShowLog, shownJob } = props;
  return (
    <>
      {jobs.slice(page.start, page.end).map(j => (
        <JobRow
          key={j.job_id}
          job={j}
          onShowLog={onShowLog}
          logShown={shownJob === j.job_id}
        />
      ))}
    </>
  );
}

/**
 * The pending jobs that wait for one reason: a row "Pending: Resources (312)"
 * that unfolds to the jobs, a page at a time. Its own state (folded, page)
 * stays as the jobs change, since the group is keyed by its reason.
 */
function PendingGroup(
  props: IRowsProps & { reason: string; jobs: IJob[] }
): JSX.Element {
  const { reason, jobs, columns } = props;
  const trans = useTrans();
  const [unfolded, setUnfolded] = React.useState<boolean | null>(null);
  const expanded = unfolded ?? jobs.length <= UNFOLDED_GROUP_SIZE;
  const page = usePage(jobs.length);
  const Caret = expanded ? caretDownIcon : caretRightIcon;
  const label = reason || trans.__('no reason given');
  const start = mayStart(earliestStart(jobs), trans);
  return (
    <tbody className="dcl-JobGroup" data-reason={reason}>
      <tr className="dcl-JobGroup-header">
        <th colSpan={columns} scope="rowgroup">
          <button
            className="dcl-JobGroup-toggle"
            data-testid="dcl-job-group"
            aria-expanded={expanded}
            title={trans._n(
              '%2 job pending: %3',
              '%2 jobs pending: %3',
              jobs.length,
              formatCount(jobs.length),
              label
            )}
            onClick={() => setUnfolded(!expanded)}
          >
            <Caret.react tag="span" />
            <span className="dcl-JobGroup-label">
              {trans.__('Pending: %1 (%2)', label, formatCount(jobs.length))}
              {start && ` · ${start}`}
            </span>
          </button>
        </th>
      </tr>
      {expanded && <JobRows {...props} page={page} />}
      {expanded && (page.hasNext || page.hasPrevious) && (
        <tr className="dcl-JobGroup-pager">
          <td colSpan={columns}>
            <Pager
              page={page}
              label={trans.__('jobs pending: %1', label)}
              testId="dcl-job-group-pager"
            />
          </td>
        </tr>
      )}
    </tbody>
  );
}

/**
 * Batch jobs of a cluster: pending jobs grouped by the reason they wait
 * (most jobs first), then the running and other jobs (those that ended before
 * their worker joined last), a page at a time.
 */
export function JobTable(props: {
  jobs: IJob[];
  /** Show a job's output: adds a Log button to each row. */
  onShowLog?: (jobId: string) => void;
  /** The job whose output is shown. */
  shownJob?: string | null;
}): JSX.Element | null {
  const { jobs, onShowLog, shownJob } = props;
  const trans = useTrans();
  const groups = React.useMemo(() => groupJobs(jobs), [jobs]);
  const page = usePage(groups.others.length);
  if (jobs.length === 0) {
    return null;
  }
  const columns = onShowLog ? 4 : 3;
  const rows = { onShowLog, shownJob, columns };
  return (
    <div className="dcl-JobTable-box">
      <table
        className="dcl-Table dcl-JobTable"
        data-testid="dcl-jobs"
        aria-label={trans.__('Batch jobs')}
      >
        <thead>
          <tr>
            <th>{trans.__('Job')}</th>
            <th>{trans.__('State')}</th>
            <th>{trans.__('Reason')}</th>
            {onShowLog && <th aria-label={trans.__('Output')} />}
          </tr>
        </thead>
        {groups.pending.map(g => (
          <PendingGroup
            key={g.reason}
            reason={g.reason}
            jobs={g.jobs}
            {...rows}
          />
        ))}
        {groups.others.length > 0 && (
          <tbody>
            <JobRows jobs={groups.others} page={page} {...rows} />
          </tbody>
        )}
      </table>
      <Pager page={page} label={trans.__('jobs')} testId="dcl-job-pager" />
    </div>
  );
}
