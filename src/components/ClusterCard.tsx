import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import React from 'react';
import {
  clusterTotals,
  dashboardHref,
  formatScaling,
  formatTotals,
  isActive
} from '../format';
import { ICluster, IJobLog } from '../types';
import { ErrorBox, IErrorInfo } from './ErrorBox';
import { JobLog } from './JobLog';
import { JobTable, WorkerTable } from './WorkerTable';

/** What a card can ask for; the sidebar wires these to the model/commands. */
export interface IClusterActions {
  insertCode(id: string): Promise<void>;
  copyCode(id: string): Promise<void>;
  scale(id: string, workers: number): Promise<void>;
  adapt(id: string, minimum: number, maximum: number): Promise<void>;
  stop(id: string): Promise<void>;
  /** The tail of a batch job's output files (batch backends). */
  jobLog?(id: string, jobId: string): Promise<IJobLog>;
  /** Open the dashboard's panes in JupyterLab (dask-labextension). */
  openDashboard?(id: string): Promise<void>;
}

export interface IClusterCardProps {
  cluster: ICluster;
  actions: IClusterActions;
  baseUrl: string;
  /** dask-labextension is there: offer its panes for this dashboard. */
  canOpenDashboard?: boolean;
  /** dask-labextension shows this cluster's dashboard now. */
  dashboardShown?: boolean;
}

function toInt(value: string, fallback: number): number {
  const n = parseInt(value, 10);
  return isNaN(n) ? fallback : n;
}

/** A number-of-workers input (scale, adapt minimum and maximum). */
function WorkerCount(props: {
  value: number;
  onChange: (value: number) => void;
  testId: string;
  label?: string;
}): JSX.Element {
  return (
    <input
      type="number"
      min={0}
      className="jp-mod-styled"
      aria-label={props.label}
      data-testid={props.testId}
      value={props.value}
      onChange={e => props.onChange(toInt(e.target.value, 0))}
    />
  );
}

/** One launched cluster: state, totals, links and actions. */
export function ClusterCard(props: IClusterCardProps): JSX.Element {
  const { cluster, actions, baseUrl, canOpenDashboard, dashboardShown } = props;
  const [expanded, setExpanded] = React.useState(false);
  const [error, setError] = React.useState<IErrorInfo | null>(null);
  const [busy, setBusy] = React.useState(false);
  /** The batch job whose output is shown. */
  const [logJob, setLogJob] = React.useState<string | null>(null);
  const current = cluster.scaling;
  const [workers, setWorkers] = React.useState(
    'workers' in current ? current.workers : cluster.workers.length
  );
  const [minimum, setMinimum] = React.useState(
    'adapt' in current ? current.adapt.minimum : 0
  );
  const [maximum, setMaximum] = React.useState(
    'adapt' in current ? current.adapt.maximum : Math.max(workers, 1)
  );

  const run = (action: () => Promise<void>) => async () => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      const err = e as Error & { field?: string | null };
      setError({ message: err.message, field: err.field ?? null });
    } finally {
      setBusy(false);
    }
  };

  const active = isActive(cluster.state);
  const running = cluster.state === 'running';
  const dashboard = dashboardHref(cluster.dashboard_url, baseUrl);
  const Caret = expanded ? caretDownIcon : caretRightIcon;
  const showLog = actions.jobLog ? setLogJob : undefined;

  return (
    <div
      className={`dcl-ClusterCard dcl-mod-${cluster.state}`}
      data-cluster-name={cluster.name}
      data-cluster-id={cluster.id}
    >
      <div className="dcl-ClusterCard-header">
        <button
          className="dcl-ClusterCard-expand"
          data-testid="dcl-expand"
          aria-expanded={expanded}
          title={expanded ? 'Hide workers' : 'Show workers'}
          onClick={() => setExpanded(!expanded)}
        >
          <Caret.react tag="span" />
        </button>
        <span className="dcl-ClusterCard-name">{cluster.name}</span>
        <span
          className={`dcl-state dcl-state-${cluster.state}`}
          data-testid="dcl-state"
        >
          {cluster.state}
        </span>
      </div>
      <div className="dcl-ClusterCard-meta">
        {cluster.backend}
        {cluster.profile && cluster.profile !== cluster.backend
          ? ` · profile ${cluster.profile}`
          : ''}
        {cluster.scaling ? ` · ${formatScaling(cluster.scaling)}` : ''}
      </div>
      {cluster.state !== 'running' && (cluster.messages ?? []).length > 0 && (
        <ul
          className="dcl-ClusterCard-messages"
          data-testid="dcl-cluster-messages"
        >
          {cluster.messages?.map(message => (
            <li key={message}>{message}</li>
          ))}
        </ul>
      )}
      {cluster.state === 'failed' && cluster.error && (
        <pre className="dcl-ClusterCard-error" data-testid="dcl-cluster-error">
          {cluster.error}
        </pre>
      )}
      <div className="dcl-totals" data-testid="dcl-totals">
        {formatTotals(clusterTotals(cluster))}
      </div>
      {(dashboard || cluster.dashboard_link) && (
        <div className="dcl-ClusterCard-links">
          {dashboard && (
            <a
              href={dashboard}
              target="_blank"
              rel="noopener noreferrer"
              data-testid="dcl-dashboard"
              title="Dask dashboard, through the Jupyter server"
            >
              Dashboard
            </a>
          )}
          {cluster.dashboard_link && (
            <a
              href={cluster.dashboard_link}
              target="_blank"
              rel="noopener noreferrer"
              data-testid="dcl-dashboard-direct"
              title={cluster.dashboard_link}
            >
              direct link
            </a>
          )}
        </div>
      )}
      {canOpenDashboard && running && dashboard && actions.openDashboard && (
        <div className="dcl-ClusterCard-labDashboard">
          <button
            className="jp-mod-styled"
            data-testid="dcl-open-dashboard"
            disabled={busy}
            title="Open the Dask dashboard's plots as JupyterLab panes (dask-labextension)"
            onClick={run(() => actions.openDashboard!(cluster.id))}
          >
            Open dashboard in JupyterLab
          </button>
          {dashboardShown && (
            <span
              className="dcl-ClusterCard-shown"
              data-testid="dcl-dashboard-shown"
            >
              shown in JupyterLab
            </span>
          )}
        </div>
      )}
      {cluster.scheduler_address && (
        <div className="dcl-ClusterCard-address" title="Scheduler address">
          {cluster.scheduler_address}
        </div>
      )}
      <div className="dcl-ClusterCard-buttons">
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="dcl-insert"
          disabled={!running || busy}
          onClick={run(() => actions.insertCode(cluster.id))}
        >
          Insert client code
        </button>
        <button
          className="jp-mod-styled"
          data-testid="dcl-copy"
          disabled={!running || busy}
          onClick={run(() => actions.copyCode(cluster.id))}
        >
          Copy client code
        </button>
      </div>
      <div className="dcl-ClusterCard-scale">
        <label>
          Workers
          <WorkerCount
            testId="dcl-scale-input"
            value={workers}
            onChange={setWorkers}
          />
        </label>
        <button
          className="jp-mod-styled"
          data-testid="dcl-scale"
          disabled={!active || busy}
          onClick={run(() => actions.scale(cluster.id, workers))}
        >
          Scale
        </button>
      </div>
      <div className="dcl-ClusterCard-scale">
        <label>
          Adapt
          <WorkerCount
            label="minimum workers"
            testId="dcl-adapt-min-input"
            value={minimum}
            onChange={setMinimum}
          />
          –
          <WorkerCount
            label="maximum workers"
            testId="dcl-adapt-max-input"
            value={maximum}
            onChange={setMaximum}
          />
        </label>
        <button
          className="jp-mod-styled"
          data-testid="dcl-adapt"
          disabled={!active || busy}
          onClick={run(() => actions.adapt(cluster.id, minimum, maximum))}
        >
          Adapt
        </button>
        <button
          className="jp-mod-styled jp-mod-warn dcl-ClusterCard-stop"
          data-testid="dcl-stop"
          disabled={cluster.state === 'stopping' || busy}
          onClick={run(() => actions.stop(cluster.id))}
        >
          {cluster.state === 'failed' ? 'Remove' : 'Stop'}
        </button>
      </div>
      {error && <ErrorBox testId="dcl-card-error" error={error} />}
      {expanded && (
        <div className="dcl-ClusterCard-details">
          <WorkerTable workers={cluster.workers} onShowLog={showLog} />
          <JobTable jobs={cluster.jobs} onShowLog={showLog} shownJob={logJob} />
          {logJob && actions.jobLog && (
            <JobLog
              jobId={logJob}
              load={jobId => actions.jobLog!(cluster.id, jobId)}
              onClose={() => setLogJob(null)}
            />
          )}
        </div>
      )}
    </div>
  );
}
