/**
 * Walltime-aware workers by default: with adaptive scaling, a batch form's
 * worker lifetime follows the walltime (walltime less 5 minutes, less a sixth
 * under 30 minutes; a stagger of half that margin, at most 4 minutes), so
 * workers drain and are replaced before the batch system kills them. The
 * same rule as the server's (dask_cluster_launcher/backends/batch/lifetimes.py):
 * both test the lifetime field's `x-derived-examples`. The user may change or
 * clear the values; from then on they stay as written.
 */
import React from 'react';
import { parseWalltime } from './resources';
import { IScaling } from './types';
import { normalisedOptions } from './walltimes';

const MARGIN = 300;
const MOST_STAGGER = 240;

export interface ILifetime {
  lifetime: string;
  lifetime_stagger: string;
}

/** Seconds as the lifetime field writes them: "2h", "25m", else "150s". */
function durationText(seconds: number): string {
  if (seconds % 3600 === 0) {
    return `${seconds / 3600}h`;
  }
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

/** The lifetime and stagger for a walltime (HH:MM:SS); null under a minute. */
export function derivedLifetime(walltime: unknown): ILifetime | null {
  const seconds = parseWalltime(walltime);
  if (seconds === null || seconds < 60) {
    return null;
  }
  const margin = Math.min(MARGIN, Math.floor(seconds / 6));
  const stagger = Math.min(MOST_STAGGER, Math.floor(margin / 2));
  return {
    lifetime: durationText(seconds - margin),
    lifetime_stagger: durationText(stagger)
  };
}

/**
 * The lifetime fields the form should hold while they follow the walltime:
 * the derived ones with adaptive scaling, none with a fixed number of workers;
 * null for a form without a lifetime field.
 */
export function followedLifetime(
  schema: Record<string, any> | undefined,
  options: Record<string, any>,
  scaling: IScaling
): ILifetime | null {
  if (!schema?.properties?.lifetime || !('walltime' in options)) {
    return null;
  }
  const none = { lifetime: '', lifetime_stagger: '' };
  if (!('adapt' in scaling)) {
    return none;
  }
  const walltime = normalisedOptions(schema, options).walltime;
  return derivedLifetime(walltime) ?? none;
}

/**
 * Keeps a batch form's lifetime following its walltime and scaling until the
 * user edits the lifetime or its stagger; a new selection (profile, backend)
 * follows again when its lifetime is unset.
 */
export function useLifetimeFollowsWalltime(
  schema: Record<string, any> | undefined,
  options: Record<string, any>,
  setOptions: (options: Record<string, any>) => void,
  scaling: IScaling,
  selection: string
): void {
  const follows = React.useRef(false);
  const lastSet = React.useRef<ILifetime | null>(null);
  const target = followedLifetime(schema, options, scaling);
  React.useEffect(() => {
    const unset = !options.lifetime && !options.lifetime_stagger;
    follows.current =
      unset ||
      (options.lifetime === target?.lifetime &&
        options.lifetime_stagger === target?.lifetime_stagger);
    lastSet.current = null;
  }, [selection]);
  React.useEffect(() => {
    const written = lastSet.current;
    if (
      written &&
      (options.lifetime !== written.lifetime ||
        options.lifetime_stagger !== written.lifetime_stagger)
    ) {
      follows.current = false; // the user wrote their own (or cleared it)
    }
    if (!follows.current || !target) {
      return;
    }
    lastSet.current = target;
    if (
      options.lifetime !== target.lifetime ||
      options.lifetime_stagger !== target.lifetime_stagger
    ) {
      setOptions({ ...options, ...target });
    }
  }, [
    selection,
    target?.lifetime,
    target?.lifetime_stagger,
    options.lifetime,
    options.lifetime_stagger
  ]);
}
