/**
 * What a launch asks of the machine or batch system, computed in the browser
 * as the form changes: sizes and times read as dask and the batch systems
 * read them, totals and core-hours. Pure functions (limits: limits.ts).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { IScaling } from './types';

/** dask's `parse_bytes` units (case-insensitive; k, M, G... are decimal). */
const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  p: 1e15,
  pb: 1e15,
  ki: 2 ** 10,
  kib: 2 ** 10,
  mi: 2 ** 20,
  mib: 2 ** 20,
  gi: 2 ** 30,
  gib: 2 ** 30,
  ti: 2 ** 40,
  tib: 2 ** 40,
  pi: 2 ** 50,
  pib: 2 ** 50
};

/** "4 GB" -> 4e9, "8 GiB" -> 8 * 2**30, as dask reads them; null if not a size. */
export function parseBytes(value: unknown): number | null {
  if (typeof value === 'number') {
    return isFinite(value) && value >= 0 ? value : null;
  }
  if (typeof value !== 'string') {
    return null;
  }
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(value);
  const unit = match ? BYTE_UNITS[match[2].toLowerCase()] : undefined;
  return match && unit !== undefined ? parseFloat(match[1]) * unit : null;
}

/** "1-02:00:00" -> 93600 seconds; null if not a walltime. */
export function parseWalltime(value: unknown): number | null {
  if (typeof value !== 'string') {
    return null;
  }
  const match = /^(?:(\d+)-)?(\d{1,3}):([0-5]\d):([0-5]\d)$/.exec(value.trim());
  if (!match) {
    return null;
  }
  const [, days, hours, minutes, seconds] = match;
  return (
    parseInt(days ?? '0', 10) * 86400 +
    parseInt(hours, 10) * 3600 +
    parseInt(minutes, 10) * 60 +
    parseInt(seconds, 10)
  );
}

/** 1800 -> "00:30:00" (as the server writes limits). */
export function formatHms(seconds: number): string {
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

/** Bytes in the units the user typed: decimal ("4 GB") or binary ("3.7 GiB"). */
export function formatSize(bytes: number, binary: boolean): string {
  const base = binary ? 1024 : 1000;
  const units = binary
    ? ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
    : ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 || Number.isInteger(value) ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** Whether a form's options are a batch system's (jobs with cores and a walltime). */
export function isBatch(options: Record<string, any>): boolean {
  return 'walltime' in options && 'cores' in options;
}

/** Workers a scaling asks for: the fixed number, or the adaptive maximum. */
export function maxWorkers(scaling: IScaling | null | undefined): number {
  if (!scaling) {
    return 0;
  }
  const n = 'adapt' in scaling ? scaling.adapt.maximum : scaling.workers;
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** A whole number >= 1 from a form value, else `fallback`. */
export function positiveInt(value: unknown, fallback: number): number {
  const n = typeof value === 'number' ? value : parseInt(String(value), 10);
  return Number.isFinite(n) && n >= 1 ? Math.floor(n) : fallback;
}

/**
 * Worker processes per job: the form's, or dask-jobqueue's choice when it is
 * empty (distributed's `nprocesses_nthreads`: one per core up to 4 cores,
 * then the smallest factor of the cores at least their square root).
 */
export function processesPerJob(options: Record<string, any>): number {
  const cores = positiveInt(options.cores, 1);
  const given = options.processes;
  if (given !== undefined && given !== null && given !== '') {
    return positiveInt(given, 1);
  }
  if (cores <= 4) {
    return cores;
  }
  for (let f = Math.ceil(Math.sqrt(cores)); f <= cores; f++) {
    if (cores % f === 0) {
      return f;
    }
  }
  return cores;
}

/** What a launch asks for in total; null parts are not known from the form. */
export interface IResourceSummary {
  adaptive: boolean;
  /** Fixed workers, or the adaptive maximum. */
  workers: number;
  /** The adaptive minimum. */
  minimum: number | null;
  /** Batch jobs (null: not a batch backend). */
  jobs: number | null;
  /** Batch backends: cores. Others: threads. */
  cores: number | null;
  coresAreThreads: boolean;
  /** Bytes. */
  memory: number | null;
  /** The user typed binary units (GiB). */
  binaryMemory: boolean;
  /** The most core-hours the launch can use: jobs x cores x walltime (batch only). */
  coreHours: number | null;
}

/** Totals of a launch of `backend` with these options and scaling. */
export function resourceSummary(
  backend: string,
  options: Record<string, any>,
  scaling: IScaling
): IResourceSummary {
  const workers = maxWorkers(scaling);
  const adaptive = 'adapt' in scaling;
  const summary: IResourceSummary = {
    adaptive,
    workers,
    minimum: adaptive ? Math.max(0, Math.floor(scaling.adapt.minimum)) : null,
    jobs: null,
    cores: null,
    coresAreThreads: true,
    memory: null,
    binaryMemory: false,
    coreHours: null
  };
  if (isBatch(options)) {
    const processes = processesPerJob(options);
    const cores = positiveInt(options.cores, 1);
    const jobs = Math.ceil(workers / processes);
    const memory = parseBytes(options.memory);
    const walltime = parseWalltime(options.walltime);
    summary.jobs = jobs;
    summary.cores = jobs * cores;
    summary.coresAreThreads = false;
    summary.memory = memory === null ? null : jobs * memory;
    summary.binaryMemory = /i/i.test(String(options.memory ?? ''));
    summary.coreHours =
      walltime === null ? null : (jobs * cores * walltime) / 3600;
  } else if ('threads_per_worker' in options) {
    summary.cores = workers * positiveInt(options.threads_per_worker, 1);
    const memory =
      options.memory_limit === 'auto' ? null : parseBytes(options.memory_limit);
    summary.memory = memory === null ? null : workers * memory;
    summary.binaryMemory = /i/i.test(String(options.memory_limit ?? ''));
  } else if ('nprocs' in options) {
    // Saturn: scaling counts machines, each runs `nprocs` worker processes.
    summary.workers = workers * positiveInt(options.nprocs, 1);
    if (options.nthreads) {
      summary.cores = summary.workers * positiveInt(options.nthreads, 1);
    }
  }
  return summary;
}

/** "1 core, 8 GB per worker": what one worker gets (a profile's one-line summary). */
export function perWorker(
  options: Record<string, any>,
  trans: TranslationBundle
): string {
  if (isBatch(options)) {
    const processes = processesPerJob(options);
    const cores = positiveInt(options.cores, 1) / processes;
    const memory = parseBytes(options.memory);
    const parts = [trans._n('%1 core', '%1 cores', cores)];
    if (memory !== null) {
      parts.push(
        formatSize(memory / processes, /i/i.test(String(options.memory)))
      );
    }
    return trans.__('%1 per worker', parts.join(', '));
  }
  if ('threads_per_worker' in options) {
    const threads = trans._n(
      '%1 thread',
      '%1 threads',
      positiveInt(options.threads_per_worker, 1)
    );
    const memory = options.memory_limit ?? 'auto';
    return memory === 'auto'
      ? trans.__('%1 per worker', threads)
      : trans.__('%1, %2 per worker', threads, String(memory));
  }
  if ('worker_size' in options) {
    return options.worker_size
      ? trans.__('%1 workers', String(options.worker_size))
      : trans.__("the project's worker size");
  }
  return '';
}
