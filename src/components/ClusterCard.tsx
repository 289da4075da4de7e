import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import React from 'react';
import {
  canConnect,
  dashboardHref,
  directLinkReachable,
  formatScaling,
  isActive
} from '../format';
import { safeLink } from '../links';
import { usageText } from '../usage';
import { useTrans } from '../translation';
import { ICluster } from '../types';
import { ClusterTotals } from './ClusterTotals';
import { ErrorBox, IErrorInfo } from './ErrorBox';
import { JobTable } from './JobTable';
import { SchedulerJob } from './SchedulerJob';
import { WorkerCount } from './WorkerCount';
import { WorkerTable } from './WorkerTable';

/** What a card can ask for; the sidebar wires these to the model/commands. */
export interface IClusterActions {
  insertCode(id: string): Promise<void>;
  copyCode(id: string): Promise<void>;
  scale(id: string, workers: number): Promise<void>;
  adapt(id: string, minimum: number, maximum: number): Promise<void>;
  stop(id: string): Promise<void>;
  /** Open a batch job's output in the main area (batch backends). */
  openJobLog?(id: string, jobId: string): void;
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
  /** Changes when the card is to be scrolled into view (after a launch, "Show"). */
  revealKey?: number;
  /** Also move the keyboard focus to the card when revealed. */
  focusOnReveal?: boolean;
}

/**
 * One launched cluster, compact: name and state, what it runs, the actions
 * used most (client code, dashboard, stop). Expanded: its address, scaling
 * controls, workers and batch jobs. Right-click for the context menu.
 */
export function ClusterCard(props: IClusterCardProps): JSX.Element {
  const { cluster, actions, baseUrl, canOpenDashboard, dashboardShown } = props;
  const trans = useTrans();
  const [expanded, setExpanded] = React.useState(false);
  const [error, setError] = React.useState<IErrorInfo | null>(null);
  const [busy, setBusy] = React.useState(false);
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
  const node = React.useRef<HTMLDivElement>(null);

  React.useEffect(() => {
    if (!props.revealKey || !node.current) {
      return;
    }
    node.current.scrollIntoView?.({ block: 'nearest' });
    if (props.focusOnReveal) {
      node.current.focus({ preventScroll: true });
    }
  }, [props.revealKey]);

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
  // a dashboard address that is no web address is shown, never followed
  const dashboardText = dashboard ? null : cluster.dashboard_url;
  const directSafe = safeLink(cluster.dashboard_link);
  const directLink =
    directSafe && directLinkReachable(directSafe) ? directSafe : null;
  const directText = directSafe ? null : cluster.dashboard_link;
  const Caret = expanded ? caretDownIcon : caretRightIcon;
  const showLog = actions.openJobLog
    ? (jobId: string) => actions.openJobLog!(cluster.id, jobId)
    : undefined;
  const detailsId = `dcl-card-details-${cluster.id}`;
  const stateLabel: Record<string, string> = {
    starting: trans.__('starting'),
    running: trans.__('running'),
    stopping: trans.__('stopping'),
    stopped: trans.__('stopped'),
    failed: trans.__('failed')
  };

  return (
    <div
      className={`dcl-ClusterCard dcl-mod-${cluster.state}`}
      data-cluster-name={cluster.name}
      data-cluster-id={cluster.id}
      ref={node}
      tabIndex={-1}
      role="group"
      aria-label={trans.__(
        'Cluster %1, %2',
        cluster.name,
        stateLabel[cluster.state] ?? cluster.state
      )}
    >
      <div className="dcl-ClusterCard-header">
        <button
          className="dcl-ClusterCard-expand"
          data-testid="dcl-expand"
          aria-expanded={expanded}
          aria-controls={detailsId}
          aria-label={
            expanded
              ? trans.__('Hide details of %1', cluster.name)
              : trans.__('Show details of %1', cluster.name)
          }
          title={expanded ? trans.__('Hide details') : trans.__('Show details')}
          onClick={() => setExpanded(!expanded)}
        >
          <Caret.react tag="span" />
        </button>
        <span className="dcl-ClusterCard-name" title={cluster.name}>
          {cluster.name}
        </span>
        <span
          className={`dcl-state dcl-state-${cluster.state}`}
          data-testid="dcl-state"
          data-state={cluster.state}
        >
          {stateLabel[cluster.state] ?? cluster.state}
        </span>
      </div>
      {/* the step a starting cluster is at ("scheduler up, waiting for workers") */}
      {cluster.state === 'starting' && cluster.phase && (
        <div className="dcl-ClusterCard-phase" data-testid="dcl-phase">
          {cluster.phase}
        </div>
      )}
      <div className="dcl-ClusterCard-meta">
        {cluster.backend}
        {cluster.external && (
          <span
            className="dcl-ClusterCard-external"
            data-testid="dcl-external"
            title={trans.__(
              'Started outside this Jupyter server (in a notebook, or by an earlier server): stopping the server leaves it running'
            )}
          >
            {` · ${trans.__('external')}`}
          </span>
        )}
        {cluster.profile && cluster.profile !== cluster.backend
          ? ` · ${trans.__('profile %1', cluster.profile)}`
          : ''}
        {cluster.scaling ? ` · ${formatScaling(cluster.scaling, trans)}` : ''}
        {cluster.usage && (
          <span
            className={
              cluster.usage.warning_core_hours !== null &&
              cluster.usage.core_hours >= cluster.usage.warning_core_hours
                ? 'dcl-ClusterCard-usage dcl-mod-warn'
                : 'dcl-ClusterCard-usage'
            }
            data-testid="dcl-usage"
            title={trans.__(
              'Used so far: allocated cores x time per batch job (exact from the accounting once the jobs ended)'
            )}
          >
            {` · ${usageText(cluster.usage, trans)}`}
          </span>
        )}
      </div>
      <SchedulerJob cluster={cluster} />
      <ClusterTotals cluster={cluster} />
      {/* Starting: what the resource manager says; running: notices (a job that
          ended and its replacement, a notebook connected with other versions). */}
      {(cluster.messages ?? []).length > 0 && (
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
      <div className="dcl-ClusterCard-buttons">
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="dcl-insert"
          disabled={!canConnect(cluster) || busy}
          title={trans.__('Insert the Client code below the active cell')}
          onClick={run(() => actions.insertCode(cluster.id))}
        >
          {trans.__('Insert client code')}
        </button>
        {dashboard && (
          <a
            className="dcl-ClusterCard-dashboard"
            href={dashboard}
            target="_blank"
            rel="noopener noreferrer"
            data-testid="dcl-dashboard"
            title={trans.__('Dask dashboard, through the Jupyter server')}
          >
            {trans.__('Dashboard')}
          </a>
        )}
        {dashboardText && (
          <NotALink testId="dcl-dashboard-text" text={dashboardText} />
        )}
        {canOpenDashboard && running && dashboard && actions.openDashboard && (
          <button
            className="jp-mod-styled"
            data-testid="dcl-open-dashboard"
            disabled={busy}
            title={trans.__(
              "Open the Dask dashboard's plots as JupyterLab panes (dask-labextension)"
            )}
            onClick={run(() => actions.openDashboard!(cluster.id))}
          >
            {trans.__('In JupyterLab')}
          </button>
        )}
        <button
          className="jp-mod-styled jp-mod-warn dcl-ClusterCard-stop"
          data-testid="dcl-stop"
          disabled={cluster.state === 'stopping' || busy}
          onClick={run(() => actions.stop(cluster.id))}
        >
          {cluster.state === 'failed' ? trans.__('Remove') : trans.__('Stop')}
        </button>
      </div>
      {dashboardShown && (
        <div
          className="dcl-ClusterCard-shown"
          data-testid="dcl-dashboard-shown"
        >
          {trans.__('dashboard shown in JupyterLab')}
        </div>
      )}
      {error && <ErrorBox testId="dcl-card-error" error={error} />}
      {expanded && (
        <div className="dcl-ClusterCard-details" id={detailsId}>
          {cluster.scheduler_address && (
            <div
              className="dcl-ClusterCard-address"
              title={trans.__('Scheduler address')}
            >
              {cluster.scheduler_address}
            </div>
          )}
          <div className="dcl-ClusterCard-buttons">
            <button
              className="jp-mod-styled"
              data-testid="dcl-copy"
              disabled={!running || busy}
              title={trans.__(
                'Copy the explicit client code: scheduler address and TLS files, without the connect helper'
              )}
              onClick={run(() => actions.copyCode(cluster.id))}
            >
              {trans.__('Copy full code')}
            </button>
            {directLink && (
              <a
                href={directLink}
                target="_blank"
                rel="noopener noreferrer"
                data-testid="dcl-dashboard-direct"
                title={directLink}
              >
                {trans.__('direct dashboard link')}
              </a>
            )}
            {directText && (
              <NotALink testId="dcl-dashboard-direct-text" text={directText} />
            )}
          </div>
          <div className="dcl-ClusterCard-scale">
            <label>
              {trans.__('Workers')}
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
              {trans.__('Scale')}
            </button>
          </div>
          <div className="dcl-ClusterCard-scale">
            <label>
              {trans.__('Adapt')}
              <WorkerCount
                label={trans.__('minimum workers')}
                testId="dcl-adapt-min-input"
                value={minimum}
                onChange={setMinimum}
              />
              –
              <WorkerCount
                label={trans.__('maximum workers')}
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
              {trans.__('Adapt')}
            </button>
          </div>
          <WorkerTable workers={cluster.workers} onShowLog={showLog} />
          <JobTable jobs={cluster.jobs} onShowLog={showLog} />
        </div>
      )}
    </div>
  );
}

/** A dashboard address that is not a web address: its text, not a link. */
function NotALink(props: { text: string; testId: string }): JSX.Element {
  const trans = useTrans();
  return (
    <span
      className="dcl-ClusterCard-notALink"
      data-testid={props.testId}
      title={trans.__('Not a web address: the sidebar does not open it')}
    >
      {props.text}
    </span>
  );
}
