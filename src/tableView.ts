/**
 * Sorting, filtering and paging for the card's tables. A cluster of 1,000
 * workers is patched several times a second: the tables show one page of rows
 * (the DOM stays small) and keep the user's sort, filter and page across
 * updates, because that view state lives in the table, not in the rows.
 */
import React from 'react';
import { IWorker } from './types';

/** Rows per page: small enough for a fast update, enough to scan. */
export const PAGE_SIZE = 50;

/** The `aria-sort` values a sorted column takes. */
export type SortDirection = 'ascending' | 'descending';

export type WorkerSortKey =
  'name' | 'host' | 'threads' | 'memory' | 'status' | 'job';

export interface IWorkerSort {
  key: WorkerSortKey;
  direction: SortDirection;
}

/** Sorted by name until a header is clicked: the order people look for. */
export const DEFAULT_SORT: IWorkerSort = {
  key: 'name',
  direction: 'ascending'
};

/**
 * A key whose plain string order is a natural, case-insensitive order:
 * "worker-2" before "worker-10", "node9" before "node10" (digit runs padded).
 * Cached per value, because the rows are sorted again at each live update and
 * comparing these is several times faster than `Intl.Collator` with
 * `numeric` (1,000 workers: under 1 ms instead of 3-4 ms).
 */
const naturalKeys = new Map<string, string>();

function naturalKey(value: string): string {
  let key = naturalKeys.get(value);
  if (key === undefined) {
    if (naturalKeys.size > 50000) {
      naturalKeys.clear();
    }
    key = value
      .toLowerCase()
      .replace(/\d+/g, digits => digits.padStart(16, '0'));
    naturalKeys.set(value, key);
  }
  return key;
}

type SortValue = string | number | null;

const SORT_VALUE: Record<WorkerSortKey, (w: IWorker) => SortValue> = {
  name: w => naturalKey(w.name || ''),
  host: w => naturalKey(w.host || ''),
  threads: w => w.nthreads || 0,
  memory: w => w.memory_limit || 0,
  status: w => naturalKey(w.status || ''),
  job: w => (w.job_id ? naturalKey(w.job_id) : null)
};

function compare(a: SortValue, b: SortValue): number {
  return a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;
}

/**
 * Workers in the order asked for, ties by name; missing values (a worker
 * without a batch job) last in either direction. Without a sort, the
 * server's order. Returns a new array.
 */
export function sortWorkers(
  workers: IWorker[],
  sort: IWorkerSort | null
): IWorker[] {
  if (!sort) {
    return workers.slice();
  }
  const value = SORT_VALUE[sort.key];
  const sign = sort.direction === 'ascending' ? 1 : -1;
  const rows = workers.map(worker => ({
    worker,
    value: value(worker),
    name: SORT_VALUE.name(worker)
  }));
  rows.sort((a, b) => {
    if ((a.value === null) !== (b.value === null)) {
      return a.value === null ? 1 : -1;
    }
    return sign * compare(a.value, b.value) || compare(a.name, b.name);
  });
  return rows.map(row => row.worker);
}

export interface IWorkerFilter {
  /** A worker status (`running`, `paused`, ...); '' for all. */
  status: string;
  /** Text found in the name, host or job id (case-insensitive); '' for all. */
  text: string;
}

export const NO_FILTER: IWorkerFilter = { status: '', text: '' };

export function isFiltered(filter: IWorkerFilter): boolean {
  return filter.status !== '' || filter.text.trim() !== '';
}

export function filterWorkers(
  workers: IWorker[],
  filter: IWorkerFilter
): IWorker[] {
  const text = filter.text.trim().toLowerCase();
  if (!filter.status && !text) {
    return workers;
  }
  return workers.filter(
    w =>
      (!filter.status || w.status === filter.status) &&
      (!text ||
        (w.name || '').toLowerCase().includes(text) ||
        (w.host || '').toLowerCase().includes(text) ||
        (w.job_id || '').toLowerCase().includes(text))
  );
}

/** The next sort when a column header is clicked: ascending, then descending. */
export function nextSort(
  current: IWorkerSort | null,
  key: WorkerSortKey
): IWorkerSort {
  if (current?.key === key && current.direction === 'ascending') {
    return { key, direction: 'descending' };
  }
  return { key, direction: 'ascending' };
}

/** One page of a list: rows `start` to `end` (exclusive) of `total`. */
export interface IPage {
  start: number;
  end: number;
  total: number;
  hasPrevious: boolean;
  hasNext: boolean;
  previous(): void;
  next(): void;
  /** Back to the first page (after the filter or sort changed). */
  first(): void;
}

/**
 * Which page of `total` rows is shown. The page number is kept as the rows
 * change; when rows go away it shows the last page there is, and the page
 * asked for again once there are enough rows.
 */
export function usePage(total: number, pageSize = PAGE_SIZE): IPage {
  const [page, setPage] = React.useState(0);
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const shown = Math.min(page, pages - 1);
  const start = shown * pageSize;
  return {
    start,
    end: Math.min(total, start + pageSize),
    total,
    hasPrevious: shown > 0,
    hasNext: shown < pages - 1,
    previous: () => setPage(Math.max(0, shown - 1)),
    next: () => setPage(Math.min(pages - 1, shown + 1)),
    first: () => setPage(0)
  };
}
