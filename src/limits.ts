/**
 * The chosen partition's (or queue's) limits, from the form schema the server
 * sends: shown beside the fields, checked as the form changes, and set as the
 * form's maxima. Pure functions; the server checks the same limits again when
 * the form is sent (backends/jobqueue.py `_check_queue`).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import {
  formatHms,
  formatSize,
  isBatch,
  parseBytes,
  parseWalltime,
  positiveInt,
  processesPerJob
} from './resources';

/** A SLURM partition or SGE queue as the form schema describes it; null: no limit known. */
export interface IQueue {
  name: string;
  state?: string;
  /** Seconds. */
  time_limit: number | null;
  /** CPUs per node. */
  cpus: number | null;
  /** Bytes per node. */
  memory: number | null;
  default?: boolean;
}

/** The limits a launch must fit: one queue's, or the most generous of several. */
export interface IQueueLimits {
  /** The queue's name, or '' when several queues may take the jobs. */
  queue: string;
  timeLimit: number | null;
  cpus: number | null;
  memory: number | null;
}

/** Parse a queue's title as the server writes it: "short (up, max 00:30:00, 16 CPUs, 15.6 GiB)". */
export function parseQueueTitle(name: string, title: string): IQueue {
  const queue: IQueue = { name, time_limit: null, cpus: null, memory: null };
  const inner = /\(([^()]*)\)\s*$/.exec(title);
  for (const part of inner ? inner[1].split(',').map(p => p.trim()) : []) {
    const max = /^max (.+)$/.exec(part);
    const cpus = /^(\d+) CPUs$/.exec(part);
    const memory = /^(\d+(?:\.\d+)?) GiB$/.exec(part);
    if (max) {
      queue.time_limit = parseWalltime(max[1]);
    } else if (cpus) {
      queue.cpus = parseInt(cpus[1], 10);
    } else if (memory) {
      queue.memory = parseFloat(memory[1]) * 2 ** 30;
    } else if (/^[a-z*~#!%$@^-]+$/i.test(part) && !queue.state) {
      queue.state = part;
    }
  }
  return queue;
}

/**
 * The site's queues from a form schema: the server's `x-queues` list (exact
 * limits) when there is one, else the titles of the queue field's choices.
 */
export function siteQueues(schema: Record<string, any> | undefined): IQueue[] {
  const field = schema?.properties?.queue;
  if (!field) {
    return [];
  }
  const num = (v: unknown) => (typeof v === 'number' && isFinite(v) ? v : null);
  if (Array.isArray(field['x-queues'])) {
    return field['x-queues']
      .filter((q: any) => q && typeof q.name === 'string')
      .map((q: any) => ({
        name: q.name,
        state: typeof q.state === 'string' ? q.state : undefined,
        time_limit: num(q.time_limit),
        cpus: num(q.cpus),
        memory: num(q.memory),
        default: q.default === true
      }));
  }
  if (Array.isArray(field.oneOf)) {
    return field.oneOf
      .filter((o: any) => typeof o?.const === 'string' && o.const !== '')
      .map((o: any) => parseQueueTitle(o.const, String(o.title ?? o.const)));
  }
  return [];
}

/** The most generous of several limits; null (no limit) when any is unlimited. */
function most(values: (number | null)[]): number | null {
  return values.some(v => v === null)
    ? null
    : Math.max(...(values as number[]));
}

/**
 * The limits for jobs sent to `name`: that queue's; for '' the site default
 * queue's, or the most generous of all when the default is not known (as the
 * server checks). null when nothing is known or the name is not a queue.
 */
export function queueLimits(
  queues: IQueue[],
  name: string | undefined
): IQueueLimits | null {
  if (queues.length === 0) {
    return null;
  }
  const named = name ? queues.find(q => q.name === name) : undefined;
  if (name && !named) {
    return null;
  }
  const defaults = queues.filter(q => q.default);
  const candidates = named ? [named] : defaults.length ? defaults : queues;
  return {
    queue: candidates.length === 1 ? candidates[0].name : '',
    timeLimit: most(candidates.map(q => q.time_limit)),
    cpus: most(candidates.map(q => q.cpus)),
    memory: most(candidates.map(q => q.memory))
  };
}

/** What the queue field calls a queue ("partition" on SLURM). */
export function queueWord(schema: Record<string, any> | undefined): string {
  const title = schema?.properties?.queue?.title;
  return typeof title === 'string' && title ? title.toLowerCase() : 'queue';
}

/**
 * Problems of the form's values against the chosen queue's limits and the
 * cores/processes rule, by field name (shown under the fields as you type).
 */
export function limitProblems(
  options: Record<string, any>,
  limits: IQueueLimits | null,
  word: string,
  trans: TranslationBundle
): Record<string, string> {
  const problems: Record<string, string> = {};
  if (!isBatch(options)) {
    return problems;
  }
  const cores = positiveInt(options.cores, 1);
  const processes = processesPerJob(options);
  if (cores % processes !== 0) {
    problems.processes = trans.__(
      'must divide the cores per job (%1) so each worker gets whole cores',
      cores
    );
  }
  if (!limits) {
    return problems;
  }
  const what = limits.queue
    ? trans.__('the %1 %2', limits.queue, word)
    : trans.__('any %1', word);
  const walltime = parseWalltime(options.walltime);
  if (limits.timeLimit !== null && walltime !== null) {
    if (walltime > limits.timeLimit) {
      problems.walltime = trans.__(
        "is longer than %1's limit (%2)",
        what,
        formatHms(limits.timeLimit)
      );
    }
  }
  if (limits.cpus !== null && cores > limits.cpus) {
    problems.cores = trans.__(
      'is more than a node of %1 has (%2)',
      what,
      limits.cpus
    );
  }
  const memory = parseBytes(options.memory);
  if (limits.memory !== null && memory !== null && memory > limits.memory) {
    problems.memory = trans.__(
      'is more than a node of %1 has (%2)',
      what,
      formatSize(limits.memory, true)
    );
  }
  return problems;
}

/** The limits shown beside the fields, e.g. `{walltime: "max 00:30:00"}`. */
export function limitHints(
  limits: IQueueLimits | null,
  trans: TranslationBundle
): Record<string, string> {
  const hints: Record<string, string> = {};
  if (!limits) {
    return hints;
  }
  const queue = [
    limits.timeLimit === null
      ? trans.__('no time limit')
      : trans.__('max %1', formatHms(limits.timeLimit))
  ];
  if (limits.cpus !== null) {
    queue.push(trans.__('%1 CPUs', limits.cpus));
  }
  if (limits.memory !== null) {
    queue.push(formatSize(limits.memory, true));
  }
  hints.queue = queue.join(', ');
  if (limits.timeLimit !== null) {
    hints.walltime = trans.__('max %1', formatHms(limits.timeLimit));
  }
  if (limits.cpus !== null) {
    hints.cores = trans.__('max %1', limits.cpus);
  }
  if (limits.memory !== null) {
    hints.memory = trans.__('max %1', formatSize(limits.memory, true));
  }
  return hints;
}

/**
 * The form schema with the queue choices named by the queue alone (and its
 * state when it is not up): the server's titles ("short (up, max 00:30:00,
 * 16 CPUs, 15.6 GiB)") do not fit a narrow sidebar's select, and the chosen
 * queue's limits show under it (`limitHints`).
 */
export function schemaWithQueueNames(
  schema: Record<string, any>
): Record<string, any> {
  const queue = schema?.properties?.queue;
  if (!Array.isArray(queue?.oneOf)) {
    return schema;
  }
  const states = new Map(siteQueues(schema).map(q => [q.name, q.state]));
  const oneOf = queue.oneOf.map((choice: any) => {
    const state = states.get(choice?.const);
    if (typeof choice?.const !== 'string' || !states.has(choice.const)) {
      return choice;
    }
    const title = state && state !== 'up' ? `${choice.const} (${state})` : '';
    return { ...choice, title: title || choice.const };
  });
  return {
    ...schema,
    properties: { ...schema.properties, queue: { ...queue, oneOf } }
  };
}

/** The form schema with the chosen queue's maxima (cores per node). */
export function schemaWithLimits(
  schema: Record<string, any>,
  limits: IQueueLimits | null
): Record<string, any> {
  const cores = schema?.properties?.cores;
  if (!limits || limits.cpus === null || !cores) {
    return schema;
  }
  const maximum =
    typeof cores.maximum === 'number'
      ? Math.min(cores.maximum, limits.cpus)
      : limits.cpus;
  return {
    ...schema,
    properties: { ...schema.properties, cores: { ...cores, maximum } }
  };
}
