import React, { act } from 'react';
import { ClusterCard } from '../components/ClusterCard';
import { applyClusterEvent } from '../model';
import { ICluster } from '../types';
import { freshReactRoot, noClusterActions } from './reactHarness';

/**
 * A Dask Gateway cluster made in a notebook, as the server's first event
 * carries it once discovery found it (every field the server sends).
 */
const fromTheServer: ICluster = {
  id: 'gateway-default.4f1d2c',
  name: 'default.4f1d2c',
  backend: 'gateway',
  profile: null,
  state: 'running',
  error: null,
  scheduler_address: 'gateway://127.0.0.1:8786/default.4f1d2c',
  dashboard_link: 'http://127.0.0.1:8000/clusters/default.4f1d2c/status',
  dashboard_url: 'http://127.0.0.1:8000/clusters/default.4f1d2c/status',
  scaling: { workers: 1 },
  messages: [],
  created: '2026-01-01T00:00:00+00:00',
  kernel: null,
  versions: {},
  external: true,
  workers: [],
  jobs: []
};

const dom = freshReactRoot();

function shownCard(cluster: ICluster): HTMLElement {
  act(() =>
    dom.root.render(
      <ClusterCard cluster={cluster} actions={noClusterActions()} baseUrl="/" />
    )
  );
  return dom.container.querySelector('.dcl-ClusterCard') as HTMLElement;
}

describe('a cluster started outside this Jupyter server', () => {
  it('is marked external in the sidebar', () => {
    const clusters = applyClusterEvent(new Map(), {
      action: 'updated',
      cluster_id: fromTheServer.id,
      cluster: fromTheServer
    });
    const card = shownCard(clusters.get(fromTheServer.id)!);
    const mark = card.querySelector('[data-testid="dcl-external"]');
    expect(mark?.textContent).toBe(' · external');
    expect(mark?.getAttribute('title')).toContain(
      'stopping the server leaves it running'
    );
    expect(card.querySelector('.dcl-ClusterCard-meta')?.textContent).toMatch(
      /^gateway · external · /
    );
  });

  it('is the only kind marked so', () => {
    const launchedHere = { ...fromTheServer, external: false };
    const card = shownCard(launchedHere);
    expect(card.querySelector('[data-testid="dcl-external"]')).toBeNull();
    expect(card.textContent).not.toContain('external');
  });
});
