import { ClusterState, ICluster, IScaling } from './types';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Human-readable binary size: 2147483648 -> "2.0 GiB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !isFinite(bytes) || bytes < 0) {
    return '-';
  }
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) {
    return `${value} B`;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${UNITS[unit]}`;
}

/** "1 thread", "2 threads". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Totals across a cluster's workers. */
export interface ITotals {
  workers: number;
  threads: number;
  memory: number;
}

export function clusterTotals(cluster: ICluster): ITotals {
  const workers = cluster.workers ?? [];
  return {
    workers: workers.length,
    threads: workers.reduce((sum, w) => sum + (w.nthreads || 0), 0),
    memory: workers.reduce((sum, w) => sum + (w.memory_limit || 0), 0)
  };
}

/** "2 workers · 4 threads · 8.0 GiB memory" */
export function formatTotals(totals: ITotals): string {
  return [
    plural(totals.workers, 'worker'),
    plural(totals.threads, 'thread'),
    `${formatBytes(totals.memory)} memory`
  ].join(' · ');
}

/** "2 workers" or "adaptive 1–4 workers". */
export function formatScaling(scaling: IScaling | null | undefined): string {
  if (!scaling) {
    return '';
  }
  if ('adapt' in scaling && scaling.adapt) {
    return `adaptive ${scaling.adapt.minimum}–${scaling.adapt.maximum} workers`;
  }
  if ('workers' in scaling) {
    return `fixed ${plural(scaling.workers, 'worker')}`;
  }
  return '';
}

/** Whether a cluster is in a state where it can be used or changed. */
export function isActive(state: ClusterState): boolean {
  return state === 'starting' || state === 'running';
}

/**
 * Browser URL of a proxied dashboard. The server gives a path under the
 * Jupyter base URL ("/proxy/40123/status"); it may already carry the base URL.
 */
export function dashboardHref(
  url: string | null | undefined,
  baseUrl: string
): string | null {
  if (!url) {
    return null;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    return url;
  }
  let basePath = baseUrl;
  try {
    basePath = new URL(baseUrl).pathname;
  } catch {
    // baseUrl is already a path
  }
  if (!basePath.endsWith('/')) {
    basePath += '/';
  }
  if (url.startsWith(basePath)) {
    return url;
  }
  return basePath + url.replace(/^\/+/, '');
}
