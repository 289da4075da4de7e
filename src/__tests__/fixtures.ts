/**
 * Server objects for the specs, with plain defaults: a spec overrides what
 * its test is about. Not a spec (jest runs `*.spec.ts(x)` only).
 */
import { IBackend, ICluster, IProfile } from '../types';

/** A local cluster just launched: starting, no scheduler, workers or jobs yet. */
export function cluster(overrides: Partial<ICluster> = {}): ICluster {
  return {
    id: 'c1',
    name: 'one',
    backend: 'local',
    profile: null,
    state: 'starting',
    error: null,
    scheduler_address: null,
    dashboard_link: null,
    dashboard_url: null,
    scaling: { workers: 2 },
    workers: [],
    jobs: [],
    created: '2026-01-01T00:00:00Z',
    ...overrides
  };
}

/** A backend with an empty form; an unavailable one says its commands are missing. */
export function backend(name: string, available = true): IBackend {
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

/** A built-in profile of the local backend, not the server's default. */
export function profile(
  name: string,
  overrides: Partial<IProfile> = {}
): IProfile {
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
