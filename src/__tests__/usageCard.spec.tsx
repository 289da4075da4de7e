import React, { act } from 'react';
import { ClusterCard } from '../components/ClusterCard';
import type { IUsage } from '../clusterModel';
import * as fixtures from './fixtures';
import { freshReactRoot, noClusterActions } from './reactHarness';

const dom = freshReactRoot();

function renderWith(usage: IUsage | null) {
  const cluster = fixtures.cluster({
    backend: 'slurm',
    state: 'running',
    usage
  });
  act(() =>
    dom.root.render(
      <ClusterCard cluster={cluster} actions={noClusterActions()} baseUrl="/" />
    )
  );
  return dom.container.querySelector('[data-testid="dcl-usage"]');
}

const used = (core_hours: number): IUsage => ({
  core_hours,
  gpu_hours: 0,
  final: false,
  most_core_hours: 0.67,
  warning_core_hours: 1
});

describe('the card', () => {
  it('says what a batch cluster used so far, in bold past the threshold', () => {
    expect(renderWith(null)).toBeNull(); // no batch jobs: nothing to say
    const below = renderWith(used(0.0333))!;
    expect(below.textContent).toBe(' · 0.03 core-hours');
    expect(below.classList.contains('dcl-mod-warn')).toBe(false);
    expect(renderWith(used(1.5))!.classList.contains('dcl-mod-warn')).toBe(
      true
    );
  });
});
