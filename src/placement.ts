/**
 * What a batch form's "Scheduler runs" choice allows, as its schema says:
 * - a field marked `x-shown-when: {field: value}` is shown only while that
 *   field has that value (the scheduler's own job's cores, memory and walltime
 *   matter only "in its own batch job");
 * - a form marked `x-fixed-size`, or one whose chosen `oneOf` option of any
 *   field is (the scheduler "in one allocation with its workers", MPI),
 *   launches a fixed number of workers: the server refuses adaptive scaling.
 */
export const SHOWN_WHEN = 'x-shown-when';
export const FIXED_SIZE = 'x-fixed-size';

type Schema = Record<string, any>;

/** The fields hidden while the form holds `formData`. */
export function hiddenFields(
  schema: Schema,
  formData: Record<string, any>
): string[] {
  const properties: Record<string, Schema> = schema.properties ?? {};
  return Object.entries(properties)
    .filter(([, field]) => {
      const when = field[SHOWN_WHEN];
      if (!when || typeof when !== 'object') {
        return false;
      }
      return Object.entries(when).some(([other, value]) => {
        const current = formData[other] ?? properties[other]?.default;
        return current !== value;
      });
    })
    .map(([name]) => name);
}

/** The ui schema with the hidden fields' widgets hidden (their values kept). */
export function uiSchemaShowing(
  uiSchema: Record<string, any>,
  hidden: string[]
): Record<string, any> {
  if (hidden.length === 0) {
    return uiSchema;
  }
  const result = { ...uiSchema };
  for (const name of hidden) {
    result[name] = { ...(uiSchema[name] ?? {}), 'ui:widget': 'hidden' };
  }
  return result;
}

/** Whether the form, as filled, launches a fixed number of workers only. */
export function fixedSizeOnly(
  schema: Schema,
  formData: Record<string, any>
): boolean {
  if (schema[FIXED_SIZE] === true) {
    return true;
  }
  const properties: Record<string, Schema> = schema.properties ?? {};
  return Object.entries(properties).some(([name, field]) => {
    const value = formData[name] ?? field.default;
    return (field.oneOf ?? []).some(
      (option: Schema) => option.const === value && option[FIXED_SIZE] === true
    );
  });
}
