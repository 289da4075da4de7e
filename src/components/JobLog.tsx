import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { TransContext, useTrans } from '../translation';
import { IJobLog } from '../types';

/** How often an open log reads the job's files again (ms): it follows them. */
export const LOG_REFRESH_INTERVAL = 3000;

export interface IJobLogProps {
  jobId: string;
  /** Fetch the log (the model's `jobLog` for this cluster). */
  load: (jobId: string) => Promise<IJobLog>;
  /** Read the files again every this many ms (0: only on Refresh). */
  refreshInterval?: number;
  /** Whether the log is seen now: a hidden tab does not poll. */
  isShown?: () => boolean;
}

/**
 * A batch job's stdout and stderr tails, followed while shown: new lines
 * appear, and a file scrolled to its end stays at its end.
 */
export function JobLog(props: IJobLogProps): JSX.Element {
  const { jobId, load, refreshInterval = 0, isShown } = props;
  const trans = useTrans();
  const [log, setLog] = React.useState<IJobLog | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(true);
  const [reloads, setReloads] = React.useState(0);
  /** Counts polls skipped while hidden (each schedules the next check). */
  const [skipped, setSkipped] = React.useState(0);
  const panel = React.useRef<HTMLDivElement>(null);
  /** Files the reader left scrolled to their end (by path): they follow. */
  const following = React.useRef(new Map<string, boolean>());

  React.useEffect(() => {
    let current = true;
    setLoading(true);
    panel.current?.querySelectorAll('pre').forEach(pre => {
      const end = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 4;
      following.current.set(pre.dataset.path ?? '', end);
    });
    load(jobId)
      .then(result => {
        if (current) {
          setLog(result);
          setError(null);
        }
      })
      .catch(e => {
        if (current) {
          setError((e as Error).message);
        }
      })
      .finally(() => {
        if (current) {
          setLoading(false);
        }
      });
    // A newer request (Refresh, the next poll) or unmounting wins.
    return () => {
      current = false;
    };
  }, [jobId, reloads]);

  // Follow the files; not after an error (the cluster or the job is gone).
  React.useEffect(() => {
    if (!refreshInterval || loading || error) {
      return;
    }
    const timer = setTimeout(() => {
      if (!isShown || isShown()) {
        setReloads(n => n + 1);
      } else {
        setSkipped(n => n + 1); // checks again later
      }
    }, refreshInterval);
    return () => clearTimeout(timer);
  }, [loading, error, refreshInterval, reloads, skipped]);

  // The newest lines are at the end: show them, unless the reader scrolled up.
  React.useLayoutEffect(() => {
    panel.current?.querySelectorAll('pre').forEach(pre => {
      if (following.current.get(pre.dataset.path ?? '') !== false) {
        pre.scrollTop = pre.scrollHeight;
      }
    });
  }, [log]);

  return (
    <div
      className="dcl-JobLog"
      data-testid="dcl-job-log"
      data-job-id={jobId}
      ref={panel}
    >
      <div className="dcl-JobLog-header">
        <span className="dcl-JobLog-title">
          {trans.__('Job %1 output', jobId)}
        </span>
        <button
          className="jp-mod-styled"
          data-testid="dcl-job-log-refresh"
          disabled={loading}
          onClick={() => setReloads(n => n + 1)}
        >
          {loading ? trans.__('Loading…') : trans.__('Refresh')}
        </button>
      </div>
      {error && (
        <div className="dcl-Error" data-testid="dcl-job-log-error">
          {error}
        </div>
      )}
      {log?.files.length === 0 && (
        <p className="dcl-Empty">{trans.__('This job has no output files.')}</p>
      )}
      {log?.files.map(file => (
        <div
          key={file.path}
          className="dcl-JobLog-file"
          data-testid="dcl-job-log-file"
        >
          <div className="dcl-JobLog-path">{file.path}</div>
          {file.text === null ? (
            <p className="dcl-Empty">{trans.__('not written yet')}</p>
          ) : file.text === '' ? (
            <p className="dcl-Empty">{trans.__('empty')}</p>
          ) : (
            <pre
              className="dcl-JobLog-text"
              data-path={file.path}
              tabIndex={0}
              aria-label={trans.__('Contents of %1', file.path)}
            >
              {file.text}
            </pre>
          )}
        </div>
      ))}
    </div>
  );
}

/** The log of one job, as the content of a main-area tab. */
class JobLogContent extends ReactWidget {
  constructor(private _options: JobLogPanel.IOptions) {
    super();
    this.addClass('dcl-JobLogPanel');
  }

  render(): JSX.Element {
    const { jobId, load, trans } = this._options;
    return (
      <TransContext.Provider value={trans}>
        <JobLog
          jobId={jobId}
          load={load}
          refreshInterval={LOG_REFRESH_INTERVAL}
          isShown={() => this.isVisible}
        />
      </TransContext.Provider>
    );
  }
}

/** A job's output in the main area, like an open file, titled with its id. */
export class JobLogPanel extends MainAreaWidget<ReactWidget> {
  constructor(options: JobLogPanel.IOptions) {
    super({ content: new JobLogContent(options) });
    const { trans, jobId, clusterName } = options;
    this.id = JobLogPanel.widgetId(options.clusterId, jobId);
    this.title.label = trans.__('Job %1 log', jobId);
    this.title.caption = trans.__(
      'Output of batch job %1 of the cluster %2',
      jobId,
      clusterName
    );
    this.title.closable = true;
  }
}

export namespace JobLogPanel {
  export interface IOptions {
    clusterId: string;
    clusterName: string;
    jobId: string;
    load: (jobId: string) => Promise<IJobLog>;
    trans: TranslationBundle;
  }

  /** One tab per job: opening it again shows that tab. */
  export function widgetId(clusterId: string, jobId: string): string {
    return `dcl-job-log-${clusterId}-${jobId}`;
  }
}
