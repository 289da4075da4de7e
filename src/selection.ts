/**
 * What a choice in the sidebar launches: its backend, profile, form values and
 * scaling (pure helpers of the launch panel).
 */
import { ClusterModel } from './model';
import { translationBundle } from './translation';
import { IBackend, IProfile, IScaling } from './types';

/** `profile:NAME`, `backend:NAME`, or '' for nothing picked. */
export type Selection = string;

export function parseSelection(
  selection: Selection
): { kind: 'profile' | 'backend'; name: string } | null {
  const match = /^(profile|backend):(.+)$/.exec(selection);
  return match
    ? { kind: match[1] as 'profile' | 'backend', name: match[2] }
    : null;
}

/** Why a profile cannot be launched here, or null. */
export function profileProblem(
  profile: IProfile,
  backends: IBackend[],
  trans = translationBundle()
): string | null {
  const backend = backends.find(b => b.name === profile.backend);
  return (
    profile.error ??
    (!backend
      ? trans.__('unknown backend %1', profile.backend)
      : !backend.available
        ? (backend.reason ?? trans.__('%1 is not available', backend.title))
        : null)
  );
}

export const DEFAULT_SCALING: IScaling = { workers: 1 };

/** What a selection launches: its backend, form values and scaling. */
export function resolveSelection(
  model: ClusterModel,
  selection: Selection
): {
  backend: IBackend | null;
  profile: IProfile | null;
  options: Record<string, any>;
  scaling: IScaling;
} {
  const parsed = parseSelection(selection);
  const profile =
    parsed?.kind === 'profile'
      ? (model.profiles.find(p => p.name === parsed.name) ?? null)
      : null;
  const backendName = profile ? profile.backend : parsed?.name;
  const backend = model.backends.find(b => b.name === backendName) ?? null;
  const options = { ...(backend?.defaults ?? {}), ...(profile?.options ?? {}) };
  return {
    backend,
    profile,
    options,
    scaling: profile?.scaling ?? DEFAULT_SCALING
  };
}

/** Whether a selection can be launched now (known, usable). */
export function usable(model: ClusterModel, selection: Selection): boolean {
  const { backend, profile } = resolveSelection(model, selection);
  if (parseSelection(selection)?.kind === 'profile') {
    return !!profile && !profileProblem(profile, model.backends);
  }
  return !!backend?.available;
}

/** Remembered values that the backend's schema still has. */
export function knownOptions(
  backend: IBackend | null,
  options: Record<string, any>
): Record<string, any> {
  const properties = backend?.schema?.properties ?? {};
  const known: Record<string, any> = {};
  for (const [key, value] of Object.entries(options)) {
    if (key in properties) {
      known[key] = value;
    }
  }
  return known;
}

/** The options whose values differ from `defaults`. */
export function changedOptions(
  options: Record<string, any>,
  defaults: Record<string, any>
): Record<string, any> {
  const changed: Record<string, any> = {};
  for (const [key, value] of Object.entries(options)) {
    if (JSON.stringify(value) !== JSON.stringify(defaults[key])) {
      changed[key] = value;
    }
  }
  return changed;
}
