import { TranslationBundle } from '@jupyterlab/translation';
import { translationBundle } from './translation';
import { safeLink } from './links';
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

/** The browser's grouping of a count: 1000 -> "1,000" (English). */
const counts = new Intl.NumberFormat();

export function formatCount(n: number): string {
  return counts.format(n);
}

/** "1 thread", "2 threads". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A running job's time left: 1140 -> "19m left", 7500 -> "2h 5m left"; "" when unknown. */
export function formatTimeLeft(
  seconds: number | null | undefined,
  trans: TranslationBundle = translationBundle()
): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '';
  }
  const minutes = Math.floor(Math.max(0, seconds) / 60);
  if (minutes < 1) {
    return trans.__('<1m left');
  }
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days > 0) {
    return trans.__('%1d %2h left', days, hours);
  }
  if (hours > 0) {
    return trans.__('%1h %2m left', hours, minutes % 60);
  }
  return trans.__('%1m left', minutes);
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

/** "2 workers · 4 threads · 8.0 GiB memory", "1,000 workers · ..." */
export function formatTotals(
  totals: ITotals,
  trans: TranslationBundle = translationBundle()
): string {
  return [
    trans._n(
      '%2 worker',
      '%2 workers',
      totals.workers,
      formatCount(totals.workers)
    ),
    trans._n(
      '%2 thread',
      '%2 threads',
      totals.threads,
      formatCount(totals.threads)
    ),
    trans.__('%1 memory', formatBytes(totals.memory))
  ].join(' · ');
}

/** "fixed 2 workers" or "adaptive 1–4 workers". */
export function formatScaling(
  scaling: IScaling | null | undefined,
  trans: TranslationBundle = translationBundle()
): string {
  if (!scaling) {
    return '';
  }
  if ('adapt' in scaling && scaling.adapt) {
    return trans.__(
      'adaptive %1–%2 workers',
      scaling.adapt.minimum,
      scaling.adapt.maximum
    );
  }
  if ('workers' in scaling) {
    return trans._n('fixed %1 worker', 'fixed %1 workers', scaling.workers);
  }
  return '';
}

/**
 * Whether the browser can reach a scheduler's direct dashboard link: not
 * when it names no host (0.0.0.0), nor a loopback address of another machine
 * (the server's 127.0.0.1 is the browser's only when both are on one host).
 */
export function directLinkReachable(
  link: string | null | undefined,
  browserHost: string = window.location.hostname
): boolean {
  if (!link) {
    return false;
  }
  let host: string;
  try {
    host = new URL(link).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  const loopback = (h: string) =>
    h === 'localhost' || h === '::1' || /^127\./.test(h);
  if (host === '0.0.0.0' || host === '::' || host === '') {
    return false;
  }
  return !loopback(host) || loopback(browserHost);
}

/** Whether a cluster is in a state where it can be used or changed. */
export function isActive(state: ClusterState): boolean {
  return state === 'starting' || state === 'running';
}

/**
 * Whether a notebook can connect now: once the scheduler is up (a starting
 * cluster with a scheduler address waits for its workers, which may queue for
 * hours; a client can already submit work to it).
 */
export function canConnect(cluster: {
  state: ClusterState;
  scheduler_address?: string | null;
}): boolean {
  return (
    cluster.state === 'running' ||
    (cluster.state === 'starting' && !!cluster.scheduler_address)
  );
}

/**
 * Browser URL of a proxied dashboard. The server gives a path under the
 * Jupyter base URL ("/proxy/40123/status"); it may already carry the base URL.
 * Null when there is none, or when it is not a web address (see `safeLink`).
 */
export function dashboardHref(
  url: string | null | undefined,
  baseUrl: string
): string | null {
  if (!url) {
    return null;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(url.trim())) {
    return safeLink(url);
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
    return safeLink(url);
  }
  return safeLink(basePath + url.replace(/^\/+/, ''));
}
