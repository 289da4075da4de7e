/**
 * Grid Engine's resource request (`resource_spec`, e.g. "h_vmem=8G") and the
 * memory field: Dask's memory limit alone reserves nothing on SGE, so the
 * site's memory resource (the schema's `x-memory-resource`, h_vmem by
 * default) must ask for the same memory. A spec derived from the memory field
 * (its value is what the memory gives, as the seeds' 8 G / h_vmem=8G) follows
 * the field when it changes; one written otherwise is flagged when it
 * disagrees, as the server refuses it (backends/batch/sge.py).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { parseBytes } from './resources';

export const MEMORY_RESOURCE = 'x-memory-resource';

/** The site's memory resource from a form schema; null when the form has none. */
export function memoryResource(
  schema: Record<string, any> | undefined
): string | null {
  const key = schema?.properties?.resource_spec?.[MEMORY_RESOURCE];
  return typeof key === 'string' && key ? key : null;
}

/** The value `key` asks for in a spec ("h_vmem=8G,arch=x" -> "8G"); null if none. */
export function specValue(spec: unknown, key: string): string | null {
  for (const item of String(spec ?? '').split(',')) {
    const [name, ...rest] = item.split('=');
    if (name === key && rest.length > 0) {
      return rest.join('=');
    }
  }
  return null;
}

/** The spec with `key`'s value replaced. */
function withSpecValue(spec: string, key: string, value: string): string {
  return spec
    .split(',')
    .map(item => (item.split('=')[0] === key ? `${key}=${value}` : item))
    .join(',');
}

/** What the server derives from a memory ("4 GiB" -> "4.29497G", as Python's %g). */
export function derivedValue(memory: unknown): string | null {
  const bytes = parseBytes(memory);
  return bytes === null || bytes <= 0
    ? null
    : `${Number((bytes / 1e9).toPrecision(6))}G`;
}

function sameSize(a: unknown, b: unknown): boolean {
  const x = parseBytes(a);
  const y = parseBytes(b);
  return x !== null && y !== null && Math.abs(x - y) <= 1e-9 * Math.max(x, y);
}

/** Whether the spec's memory resource is what the memory field gives. */
export function specFollowsMemory(
  options: Record<string, any>,
  key: string | null
): boolean {
  const value = key ? specValue(options.resource_spec, key) : null;
  return value !== null && sameSize(value, derivedValue(options.memory));
}

/**
 * The form's next values with a following spec moved to the new memory.
 * `follows` says whether the spec followed the memory before this change; the
 * answer says whether it does after (an edit of the spec decides anew).
 */
export function followMemory(
  previous: Record<string, any>,
  next: Record<string, any>,
  key: string | null,
  follows: boolean
): { options: Record<string, any>; follows: boolean } {
  if (!key) {
    return { options: next, follows: false };
  }
  if (next.resource_spec !== previous.resource_spec) {
    return { options: next, follows: specFollowsMemory(next, key) };
  }
  const derived = derivedValue(next.memory);
  // While the memory is being typed (unreadable), the spec waits for it.
  if (!follows || next.memory === previous.memory || derived === null) {
    return { options: next, follows };
  }
  const spec = withSpecValue(String(next.resource_spec ?? ''), key, derived);
  return { options: { ...next, resource_spec: spec }, follows: true };
}

/** The spec's memory resources against the memory per job, as the server checks them. */
export function resourceSpecProblems(
  options: Record<string, any>,
  key: string | null,
  trans: TranslationBundle
): Record<string, string> {
  const memory = parseBytes(options.memory);
  const value = key ? specValue(options.resource_spec, key) : null;
  const asked = parseBytes(value);
  if (!key || memory === null || asked === null || sameSize(asked, memory)) {
    return {};
  }
  return {
    resource_spec:
      asked < memory
        ? trans.__(
            '%1=%2 is less than the memory per job (%3); the jobs would be killed',
            key,
            value,
            options.memory
          )
        : trans.__(
            '%1=%2 is more than the memory per job (%3): set the memory field instead',
            key,
            value,
            options.memory
          )
  };
}
