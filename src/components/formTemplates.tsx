/**
 * rjsf templates of the options forms: compact fields (label and input on one
 * row, or the label above where the sidebar is narrow; the help wrapped below,
 * led by the partition's limit) and
 * the root object split into the groups of the schema's `ui:groups` (the
 * `x-ui` block of schema/backends/*.yaml), each collapsed until opened or
 * until one of its fields has an error.
 *
 * They are passed to JupyterLab's FormComponent as `templates`; what they need
 * from the panel comes through rjsf's `formContext` (IFormContext).
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type {
  ArrayFieldTemplateProps,
  FieldTemplateProps,
  ObjectFieldTemplateProps
} from '@rjsf/utils';
import React from 'react';
import { translationBundle } from '../translation';

/** One entry of `ui:groups`: a titled, collapsed set of fields ("*": the rest). */
export interface IFieldGroup {
  title: string;
  fields: string[];
}

/** What the templates read from the panel (rjsf `formContext`). */
export interface IFormContext {
  /** Limits shown beside a field's label, by field name ("max 00:30:00"). */
  hints: Record<string, string>;
  /** Fields with an error: their group opens. */
  errorFields: string[];
  /** The backend's defaults: a group's title counts the fields set otherwise. */
  defaults: Record<string, any>;
  trans: TranslationBundle;
}

/** The field name of an rjsf id ("root_cores" -> "cores"). */
function fieldName(id: string): string {
  return id.replace(/^root_/, '');
}

/** Array items ("root_job_script_prologue_0") have no label of their own. */
function isArrayItem(id: string): boolean {
  return /_\d+$/.test(id);
}

/** "Environment" -> "environment", for test ids and element ids. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * One field: label and input on one row (style/launch.css stacks them in a
 * narrow sidebar); below, wrapped, the limit of the chosen partition (or what
 * a walltime written otherwise means) and the description (for screen readers
 * too: the input's aria-describedby names it); then its errors, in words.
 */
export function CompactFieldTemplate(props: FieldTemplateProps): JSX.Element {
  const {
    id,
    label,
    children,
    errors,
    rawErrors,
    rawDescription,
    hidden,
    required,
    displayLabel,
    schema,
    formContext
  } = props;
  if (hidden) {
    return <div className="dcl-Field-hidden">{children}</div>;
  }
  if (id === 'root') {
    return children;
  }
  const context = (formContext ?? {}) as Partial<IFormContext>;
  const name = fieldName(id);
  const hint = context.hints?.[name];
  const invalid = (rawErrors ?? []).length > 0;
  const container = schema.type === 'object' || schema.type === 'array';
  const className = `dcl-Field${invalid ? ' dcl-mod-invalid' : ''}`;
  if (container || isArrayItem(id) || !displayLabel) {
    // Arrays and objects title themselves; checkboxes carry their label.
    return (
      <div className={className} data-field={name}>
        {children}
        {errors}
      </div>
    );
  }
  return (
    <div className={className} data-field={name}>
      <div className="dcl-Field-row">
        <label className="dcl-Field-label" htmlFor={id} title={label}>
          {label}
          {required ? <span aria-hidden="true">*</span> : null}
        </label>
        <div className="dcl-Field-input">{children}</div>
      </div>
      {(hint || rawDescription) && (
        <div
          className="dcl-Field-help"
          id={`${id}__description`}
          title={rawDescription}
        >
          {hint && (
            <span className="dcl-Field-limit" data-testid={`dcl-limit-${name}`}>
              {hint}
            </span>
          )}
          {hint && rawDescription ? ' ' : null}
          {rawDescription}
        </div>
      )}
      {errors}
    </div>
  );
}

/**
 * A list field (extra directives, prologue commands...): its title with an
 * Add button on one row, the description on one line, then one input per
 * entry with a Remove button. Each entry's input is labelled for screen
 * readers ("Job script prologue, entry 2").
 */
export function CompactArrayTemplate(
  props: ArrayFieldTemplateProps
): JSX.Element {
  const { idSchema, title, schema, items, canAdd, onAddClick, formContext } =
    props;
  const trans =
    (formContext as Partial<IFormContext> | undefined)?.trans ??
    translationBundle();
  const id = idSchema.$id;
  const name = fieldName(id);
  const label = title || name;
  const locked = props.disabled || props.readonly;
  return (
    <div className="dcl-ArrayField" id={id}>
      <div className="dcl-Field-row">
        <span className="dcl-Field-label" id={`${id}__title`} title={label}>
          {label}
        </span>
        <div className="dcl-ArrayField-add">
          {canAdd && (
            <button
              type="button"
              className="jp-mod-styled dcl-ArrayField-button"
              data-testid={`dcl-add-${name}`}
              aria-label={trans.__('Add an entry to %1', label)}
              disabled={locked}
              onClick={onAddClick}
            >
              {trans.__('Add')}
            </button>
          )}
        </div>
      </div>
      {schema.description && (
        <div
          className="dcl-Field-help"
          id={`${id}__description`}
          title={schema.description}
        >
          {schema.description}
        </div>
      )}
      {items.map(item => (
        <div key={item.key} className="dcl-ArrayField-item">
          <label className="dcl-VisuallyHidden" htmlFor={`${id}_${item.index}`}>
            {trans.__('%1, entry %2', label, item.index + 1)}
          </label>
          <div className="dcl-ArrayField-input">{item.children}</div>
          {item.hasRemove && (
            <button
              type="button"
              className="jp-mod-styled dcl-ArrayField-button"
              aria-label={trans.__(
                'Remove entry %1 of %2',
                item.index + 1,
                label
              )}
              title={trans.__('Remove')}
              disabled={locked}
              onClick={item.onDropIndexClick(item.index)}
            >
              ×
            </button>
          )}
        </div>
      ))}
    </div>
  );
}

/** A collapsed group of fields; open once the user opens it or on an error. */
function FieldGroup(props: {
  title: string;
  fields: ObjectFieldTemplateProps['properties'];
  forceOpen: boolean;
  changed: number;
  trans: TranslationBundle;
}): JSX.Element {
  const { title, fields, forceOpen, changed, trans } = props;
  const [opened, setOpened] = React.useState(false);
  const open = opened || forceOpen;
  const id = `dcl-group-${slug(title)}`;
  return (
    <details
      className="dcl-FieldGroup"
      open={open}
      data-testid={id}
      onToggle={e => setOpened((e.currentTarget as HTMLDetailsElement).open)}
    >
      <summary className="dcl-FieldGroup-summary">
        {trans.__(title)}
        {changed > 0 && (
          <span className="dcl-FieldGroup-changed">
            {trans._n('%1 changed', '%1 changed', changed)}
          </span>
        )}
      </summary>
      {open && (
        <div className="dcl-FieldGroup-fields">
          {fields.map(p => p.content)}
        </div>
      )}
    </details>
  );
}

/**
 * The root object: the fields `ui:order` names and no group takes first (the
 * few people change), then one collapsed group per `ui:groups` entry; a
 * group's "*" takes the fields named nowhere. Nested objects render flat.
 */
export function GroupedObjectTemplate(
  props: ObjectFieldTemplateProps
): JSX.Element {
  const { properties, idSchema, uiSchema, formData, formContext, schema } =
    props;
  const context = (formContext ?? {}) as Partial<IFormContext>;
  const root = idSchema.$id === 'root';
  const groups: IFieldGroup[] = root
    ? ((uiSchema?.['ui:groups'] as IFieldGroup[] | undefined) ?? []).filter(
        g => g && typeof g.title === 'string' && Array.isArray(g.fields)
      )
    : [];
  const owner = new Map<string, number>();
  groups.forEach((group, index) =>
    group.fields.forEach(field => {
      if (field !== '*' && !owner.has(field)) {
        owner.set(field, index);
      }
    })
  );
  // "*" takes the fields named nowhere (neither in a group nor in ui:order).
  const rest = groups.findIndex(g => g.fields.includes('*'));
  const ordered = new Set<string>(
    (uiSchema?.['ui:order'] as string[] | undefined) ?? []
  );
  const main: typeof properties = [];
  const grouped: (typeof properties)[] = groups.map(() => []);
  for (const property of properties) {
    const index =
      owner.get(property.name) ?? (ordered.has(property.name) ? -1 : rest);
    (index >= 0 ? grouped[index] : main).push(property);
  }
  const trans = context.trans ?? translationBundle();
  const errorFields = new Set(context.errorFields ?? []);
  const defaults = context.defaults ?? {};
  const data = (formData ?? {}) as Record<string, any>;
  const changed = (fields: typeof properties) =>
    fields.filter(
      p =>
        p.name in data &&
        JSON.stringify(data[p.name]) !== JSON.stringify(defaults[p.name])
    ).length;
  return (
    <fieldset className="dcl-Form-fields" id={idSchema.$id}>
      {root && schema.description && (
        <p className="dcl-Form-description" title={schema.description}>
          {schema.description}
        </p>
      )}
      {main.map(p => p.content)}
      {groups.map((group, index) =>
        grouped[index].length > 0 ? (
          <FieldGroup
            key={group.title}
            title={group.title}
            fields={grouped[index]}
            forceOpen={grouped[index].some(p => errorFields.has(p.name))}
            changed={changed(grouped[index])}
            trans={trans}
          />
        ) : null
      )}
    </fieldset>
  );
}

/** The templates handed to FormComponent (stable: created once). */
export const FORM_TEMPLATES = {
  ArrayFieldTemplate: CompactArrayTemplate,
  FieldTemplate: CompactFieldTemplate,
  ObjectFieldTemplate: GroupedObjectTemplate
};
