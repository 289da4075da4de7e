/**
 * The form's validation errors in people's words, under each field, as they
 * type: "Walltime per job: use HH:MM:SS, e.g. 01:30:00" rather than ajv's
 * 'must match pattern "^([0-9]+-)?..."'. A field's schema may say what to
 * write (`x-message`, the same words the server's 400 uses); the other
 * keywords get a sentence each. Used as rjsf's `transformErrors`.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { RJSFValidationError } from '@rjsf/utils';

export const MESSAGE = 'x-message';

/** ".job_extra_directives.0" or "['a-b']" -> ["job_extra_directives", "0"]. */
function pathOf(property: string | undefined): string[] {
  return (property ?? '').split(/[.[\]'"]+/).filter(part => part !== '');
}

/** The schema of the value at `path`, and how the form labels it. */
function fieldAt(
  schema: Record<string, any>,
  path: string[],
  trans: TranslationBundle
): { field: Record<string, any>; label: string } {
  let field: Record<string, any> = schema;
  let label = '';
  for (const part of path) {
    if (/^\d+$/.test(part) && field?.items) {
      field = field.items;
      label = trans.__('%1, entry %2', label, parseInt(part, 10) + 1);
    } else {
      field = field?.properties?.[part] ?? {};
      label = String(field.title ?? part);
    }
  }
  return { field, label };
}

/** What is wrong, in words, for one ajv keyword. */
function problem(
  error: RJSFValidationError,
  field: Record<string, any>,
  trans: TranslationBundle
): string {
  const params = error.params ?? {};
  switch (error.name) {
    case 'pattern':
      return typeof field[MESSAGE] === 'string'
        ? trans.__(field[MESSAGE])
        : trans.__('has characters or a format that is not allowed');
    case 'required':
      return trans.__('is required');
    case 'minimum':
      return trans.__('must be at least %1', params.limit);
    case 'maximum':
      return trans.__('must be at most %1', params.limit);
    case 'minLength':
      return params.limit === 1
        ? trans.__('must not be empty')
        : trans.__('is shorter than %1 characters', params.limit);
    case 'maxLength':
      return trans.__('is longer than %1 characters', params.limit);
    case 'maxItems':
      return trans.__('has more than %1 entries', params.limit);
    case 'type':
      return params.type === 'integer'
        ? trans.__('must be a whole number')
        : params.type === 'number'
          ? trans.__('must be a number')
          : trans.__('must be a %1', params.type);
    case 'const':
    case 'enum':
    case 'oneOf':
    case 'anyOf':
      return trans.__('is not one of the choices');
    default:
      return error.message ?? trans.__('is not allowed');
  }
}

/**
 * rjsf's errors with messages in words, named by the field's title, one per
 * field and message (a choice refused gives ajv one error per choice).
 */
export function errorsInWords(
  errors: RJSFValidationError[],
  schema: Record<string, any>,
  trans: TranslationBundle
): RJSFValidationError[] {
  const seen = new Set<string>();
  const result: RJSFValidationError[] = [];
  for (const error of errors) {
    if (error.name === 'if') {
      continue;
    }
    const path = pathOf(error.property);
    const { field, label } = fieldAt(schema, path, trans);
    const message = label
      ? trans.__('%1: %2', label, problem(error, field, trans))
      : problem(error, field, trans);
    const key = `${error.property}\n${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      result.push({ ...error, message, stack: message });
    }
  }
  return result;
}
