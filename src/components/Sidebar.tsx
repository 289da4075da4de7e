import { ReactWidget } from '@jupyterlab/apputils';
import type { ITranslator } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React from 'react';
import { DaskDashboardBridge } from '../daskDashboard';
import { LaunchMemory } from '../memory';
import { ClusterModel } from '../model';
import { useSidebarUpdateMeasure } from '../sidebarTiming';
import { TransContext, translationBundle, useTrans } from '../translation';
import { ClusterState, ICluster } from '../types';
import { ClusterCard, IClusterActions } from './ClusterCard';
import { IKernelSource } from './KernelPicker';
import { LaunchPanel } from './LaunchPanel';

export interface ISidebarOptions {
  model: ClusterModel;
  actions: IClusterActions;
  baseUrl: string;
  defaultProfile: string;
  /** Dashboards in JupyterLab through dask-labextension (null: not offered). */
  dashboards?: DaskDashboardBridge | null;
  translator?: ITranslator | null;
  /** Where the last choice and form values are kept across reloads. */
  memory?: LaunchMemory | null;
  /** Called with each cluster launched from the sidebar. */
  onLaunched?: (cluster: ICluster) => void;
  /** Kernels a launch can run with (the active notebook's preselected). */
  kernels?: IKernelSource | null;
}

/** A request to scroll a card into view. */
interface IReveal {
  id: string;
  key: number;
  focus: boolean;
}

/** Re-render on a signal (UseSignal without its initial-args quirks). */
function useSignal(signal: ISignal<unknown, unknown> | null | undefined): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    if (!signal) {
      return;
    }
    const update = () => setTick(t => t + 1);
    signal.connect(update);
    return () => {
      signal.disconnect(update);
    };
  }, [signal]);
}

/**
 * What screen readers hear when a cluster changes state ("one is running");
 * the first render only records the states.
 */
function useStateAnnouncements(clusters: ICluster[]): string {
  const trans = useTrans();
  const seen = React.useRef<Map<string, ClusterState> | null>(null);
  const [message, setMessage] = React.useState('');
  React.useEffect(() => {
    const previous = seen.current;
    const next = new Map(clusters.map(c => [c.id, c.state]));
    seen.current = next;
    if (!previous) {
      return;
    }
    const news: string[] = [];
    for (const c of clusters) {
      if (previous.get(c.id) === c.state) {
        continue;
      }
      news.push(
        c.state === 'failed'
          ? trans.__('Cluster %1 failed: %2', c.name, c.error ?? '')
          : trans.__('Cluster %1 is %2', c.name, trans.__(c.state))
      );
    }
    for (const id of previous.keys()) {
      if (!next.has(id)) {
        news.push(trans.__('A cluster was removed'));
      }
    }
    if (news.length > 0) {
      setMessage(news.join('. '));
    }
  }, [clusters]);
  return message;
}

function SidebarView(props: {
  options: ISidebarOptions;
  defaultProfile: string;
  revealed: ISignal<unknown, IReveal>;
}): JSX.Element {
  const { model, actions, baseUrl, dashboards, memory, onLaunched } =
    props.options;
  const trans = useTrans();
  useSignal(model.catalogChanged);
  useSignal(model.clustersChanged);
  useSignal(dashboards?.changed);
  const [reveal, setReveal] = React.useState<IReveal | null>(null);
  React.useEffect(() => {
    const onReveal = (_: unknown, r: IReveal) => setReveal(r);
    props.revealed.connect(onReveal);
    return () => {
      props.revealed.disconnect(onReveal);
    };
  }, [props.revealed]);
  const clusters = model.sortedClusters;
  const announcement = useStateAnnouncements(clusters);
  // The `dcl:sidebar-update` performance measure (src/sidebarTiming.ts).
  useSidebarUpdateMeasure(model);

  return (
    <div className="dcl-Sidebar-content">
      <div className="dcl-Sidebar-header">
        <h2 id="dcl-clusters-heading">{trans.__('Clusters')}</h2>
        <button
          className="dcl-Sidebar-refresh"
          title={trans.__('Reload backends, profiles and clusters')}
          aria-label={trans.__('Reload backends, profiles and clusters')}
          data-testid="dcl-refresh"
          onClick={() => void model.refresh()}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      <div
        className="dcl-VisuallyHidden"
        role="status"
        aria-live="polite"
        data-testid="dcl-announcer"
      >
        {announcement}
      </div>
      {model.loadError && (
        <div className="dcl-Error" role="alert" data-testid="dcl-load-error">
          {model.loadError}
        </div>
      )}
      <section
        className="dcl-ClusterList"
        data-testid="dcl-clusters"
        aria-labelledby="dcl-clusters-heading"
      >
        {clusters.length === 0 && (
          <p className="dcl-Empty">{trans.__('No clusters running.')}</p>
        )}
        {clusters.map(cluster => (
          <ClusterCard
            key={cluster.id}
            cluster={cluster}
            actions={actions}
            baseUrl={baseUrl}
            canOpenDashboard={dashboards?.available ?? false}
            dashboardShown={dashboards?.shownClusterId === cluster.id}
            revealKey={reveal?.id === cluster.id ? reveal.key : undefined}
            focusOnReveal={reveal?.id === cluster.id && reveal.focus}
          />
        ))}
      </section>
      <LaunchPanel
        model={model}
        defaultProfile={props.defaultProfile}
        memory={memory}
        kernels={props.options.kernels}
        onLaunched={cluster => {
          setReveal({ id: cluster.id, key: Date.now(), focus: false });
          onLaunched?.(cluster);
        }}
      />
    </div>
  );
}

/** The "Clusters" sidebar: the user's clusters first, then "New cluster". */
export class ClusterSidebar extends ReactWidget {
  constructor(options: ISidebarOptions) {
    super();
    this._options = options;
    this._defaultProfile = options.defaultProfile;
    this._trans = translationBundle(options.translator);
    this.addClass('dcl-Sidebar');
  }

  /** Select a new default profile (the setting changed). */
  setDefaultProfile(name: string): void {
    if (name !== this._defaultProfile) {
      this._defaultProfile = name;
      this.update();
    }
  }

  /** Scroll a cluster's card into view (and focus it, for keyboard users). */
  reveal(id: string, focus = true): void {
    this._revealed.emit({ id, key: ++this._revealCount, focus });
  }

  render(): JSX.Element {
    return (
      <TransContext.Provider value={this._trans}>
        <SidebarView
          options={this._options}
          defaultProfile={this._defaultProfile}
          revealed={this._revealed}
        />
      </TransContext.Provider>
    );
  }

  private _options: ISidebarOptions;
  private _defaultProfile: string;
  private _trans: ReturnType<typeof translationBundle>;
  private _revealed = new Signal<this, IReveal>(this);
  private _revealCount = 0;
}
