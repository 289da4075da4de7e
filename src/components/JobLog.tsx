import React from 'react';
import { useTrans } from '../translation';
import { IJobLog } from '../types';

export interface IJobLogProps {
  jobId: string;
  /** Fetch the log (the model's `jobLog` for this cluster). */
  load: (jobId: string) => Promise<IJobLog>;
  onClose: () => void;
}

/** A batch job's stdout and stderr tails, with Refresh and Close. */
export function JobLog(props: IJobLogProps): JSX.Element {
  const { jobId, load, onClose } = props;
  const trans = useTrans();
  const [log, setLog] = React.useState<IJobLog | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(true);
  const [reloads, setReloads] = React.useState(0);

  React.useEffect(() => {
    let current = true;
    setLoading(true);
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
    // A newer request (other job, Refresh) or unmounting wins.
    return () => {
      current = false;
    };
  }, [jobId, reloads]);

  // The newest lines are at the end: show them (once per load only, so a
  // re-render of the card does not scroll away from what the user reads).
  const panel = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    panel.current?.querySelectorAll('pre').forEach(pre => {
      pre.scrollTop = pre.scrollHeight;
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
        <button
          className="jp-mod-styled"
          data-testid="dcl-job-log-close"
          onClick={onClose}
        >
          {trans.__('Close')}
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
            <pre className="dcl-JobLog-text">{file.text}</pre>
          )}
        </div>
      ))}
    </div>
  );
}
