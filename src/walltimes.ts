/**
 * Walltimes written as the batch systems read them (SLURM's `60` minutes,
 * `MM:SS`, `D-HH:MM:SS`; Grid Engine's seconds), turned into the HH:MM:SS the
 * server will ask for. The same rules as the server's
 * (dask_cluster_launcher/backends/batch/walltimes.py): a field names its rule
 * with the schema keyword `x-normalise`, its `pattern` decides what is
 * accepted, and both sides test the field's `x-normalise-examples`.
 */
import { formatHms } from './resources';

export const NORMALISE = 'x-normalise';

/** Seconds of "H:M:S" parts (as many as given, the last one seconds). */
function clock(parts: string[]): number {
  return parts.reduce((seconds, part) => seconds * 60 + parseInt(part, 10), 0);
}

const DIGITS = /^[0-9]+$/;

/** sbatch --time: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS. */
export function slurmSeconds(value: string): number | null {
  const days = /^(\d+)-(\d+)(?::(\d+))?(?::(\d+))?$/.exec(value);
  if (days) {
    const [d, h, m, s] = days.slice(1).map(g => parseInt(g ?? '0', 10));
    return ((d * 24 + h) * 60 + m) * 60 + s;
  }
  const parts = value.split(':');
  if (parts.length > 3 || !parts.every(p => DIGITS.test(p))) {
    return null;
  }
  return parts.length === 1 ? parseInt(parts[0], 10) * 60 : clock(parts);
}

/** h_rt: seconds or HH:MM:SS (and a days prefix, as the form took before). */
export function sgeSeconds(value: string): number | null {
  const dash = value.lastIndexOf('-');
  const days = dash >= 0 ? value.slice(0, dash) : '';
  const parts = value.slice(dash + 1).split(':');
  const digits = (days ? [days] : []).concat(parts);
  if (
    (parts.length !== 1 && parts.length !== 3) ||
    !digits.every(p => DIGITS.test(p))
  ) {
    return null;
  }
  return parseInt(days || '0', 10) * 86400 + clock(parts);
}

function rewrite(
  secondsOf: (value: string) => number | null
): (value: string) => string {
  return value => {
    const seconds = secondsOf(value);
    return seconds === null ? value : formatHms(seconds);
  };
}

/** The rules by the name a schema's `x-normalise` gives. */
export const RULES: Record<string, (value: string) => string> = {
  'slurm-walltime': rewrite(slurmSeconds),
  'sge-walltime': rewrite(sgeSeconds)
};

/** Whether `value` is what the field's pattern accepts (as ajv reads it). */
function accepted(field: Record<string, any>, value: string): boolean {
  try {
    return new RegExp(field.pattern, 'u').test(value);
  } catch {
    return false;
  }
}

/**
 * The options with each field whose schema names a rule rewritten by it;
 * values the field's pattern refuses are left as they are (the form flags
 * them). What the launch will ask for, for the summary and the limits.
 */
export function normalisedOptions(
  schema: Record<string, any> | undefined,
  options: Record<string, any>
): Record<string, any> {
  const properties: Record<string, any> = schema?.properties ?? {};
  const result = { ...options };
  for (const [name, value] of Object.entries(options)) {
    const field = properties[name];
    const rule = field ? RULES[field[NORMALISE]] : undefined;
    if (rule && typeof value === 'string' && accepted(field, value)) {
      result[name] = rule(value);
    }
  }
  return result;
}
