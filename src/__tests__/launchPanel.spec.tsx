import React, { act } from 'react';
import { createRoot, Root } from 'react-dom/client';
import { LaunchPanel } from '../components/LaunchPanel';
import { ClusterModel } from '../model';
import { IBackend, IProfile } from '../types';

function backend(name: string, available = true): IBackend {
  return {
    name,
    title: name.toUpperCase(),
    available,
    reason: available ? null : `${name} commands not found`,
    schema: { type: 'object', properties: {} },
    ui_schema: {},
    defaults: {}
  };
}

function profile(name: string, overrides: Partial<IProfile> = {}): IProfile {
  return {
    name,
    title: name,
    description: '',
    backend: 'local',
    options: {},
    scaling: null,
    source: 'builtin',
    error: null,
    default: false,
    ...overrides
  };
}

/** Just the catalog LaunchPanel reads. */
function fakeModel(profiles: IProfile[]): ClusterModel {
  return {
    backends: [backend('local'), backend('slurm', false)],
    profiles
  } as any;
}

let container: HTMLDivElement;
let root: Root;

beforeEach(() => {
  (globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

function preselected(profiles: IProfile[], defaultProfile: string): string {
  act(() =>
    root.render(
      <LaunchPanel
        model={fakeModel(profiles)}
        defaultProfile={defaultProfile}
      />
    )
  );
  return (
    container.querySelector('[data-testid="dcl-picker"]') as HTMLSelectElement
  ).value;
}

describe('LaunchPanel preselection', () => {
  const profiles = [
    profile('local'),
    profile('big', { source: 'site', default: true }),
    profile('mine', { source: 'user' }),
    profile('eddie', { source: 'site', backend: 'slurm' })
  ];

  it("preselects the server's default profile when the setting is empty", () => {
    expect(preselected(profiles, '')).toBe('profile:big');
  });

  it("lets a non-empty setting win over the server's default", () => {
    expect(preselected(profiles, 'mine')).toBe('profile:mine');
  });

  it('ignores a setting naming an unusable profile', () => {
    expect(preselected(profiles, 'eddie')).toBe('profile:big');
  });

  it('falls back to the first available backend without any default', () => {
    expect(preselected([profile('local')], '')).toBe('backend:local');
  });
});
