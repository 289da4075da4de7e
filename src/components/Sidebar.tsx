import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';
import React from 'react';
import { DaskDashboardBridge } from '../daskDashboard';
import { ClusterModel } from '../model';
import { ClusterCard, IClusterActions } from './ClusterCard';
import { LaunchPanel } from './LaunchPanel';

export interface ISidebarOptions {
  model: ClusterModel;
  actions: IClusterActions;
  baseUrl: string;
  defaultProfile: string;
  /** Dashboards in JupyterLab through dask-labextension (null: not offered). */
  dashboards?: DaskDashboardBridge | null;
}

/** The "Clusters" sidebar: launch form on top, one card per cluster below. */
export class ClusterSidebar extends ReactWidget {
  constructor(options: ISidebarOptions) {
    super();
    this._options = options;
    this.addClass('dcl-Sidebar');
  }

  render(): JSX.Element {
    const { model, actions, baseUrl, defaultProfile, dashboards } =
      this._options;
    return (
      <div className="dcl-Sidebar-content">
        <div className="dcl-Sidebar-header">
          <h2>Clusters</h2>
          <button
            className="dcl-Sidebar-refresh"
            title="Reload backends, profiles and clusters"
            data-testid="dcl-refresh"
            onClick={() => void model.refresh()}
          >
            <refreshIcon.react tag="span" />
          </button>
        </div>
        <UseSignal signal={model.catalogChanged}>
          {() => (
            <>
              {model.loadError && (
                <div className="dcl-Error" data-testid="dcl-load-error">
                  {model.loadError}
                </div>
              )}
              <LaunchPanel model={model} defaultProfile={defaultProfile} />
            </>
          )}
        </UseSignal>
        <UseSignal signal={model.clustersChanged}>
          {() => (
            <UseSignal
              signal={
                (dashboards?.changed ?? model.clustersChanged) as ISignal<
                  unknown,
                  void
                >
              }
            >
              {() => {
                const clusters = model.sortedClusters;
                return (
                  <div className="dcl-ClusterList" data-testid="dcl-clusters">
                    {clusters.length === 0 && (
                      <p className="dcl-Empty">No clusters running.</p>
                    )}
                    {clusters.map(cluster => (
                      <ClusterCard
                        key={cluster.id}
                        cluster={cluster}
                        actions={actions}
                        baseUrl={baseUrl}
                        canOpenDashboard={dashboards?.available ?? false}
                        dashboardShown={
                          dashboards?.shownClusterId === cluster.id
                        }
                      />
                    ))}
                  </div>
                );
              }}
            </UseSignal>
          )}
        </UseSignal>
      </div>
    );
  }

  private _options: ISidebarOptions;
}
