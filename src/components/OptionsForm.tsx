import { FormComponent } from '@jupyterlab/ui-components';
import validator from '@rjsf/validator-ajv8';
import React from 'react';
import {
  limitHints,
  limitProblems,
  queueLimits,
  queueWord,
  schemaWithLimits,
  schemaWithQueueNames,
  siteQueues
} from '../limits';
import { memoryResource, resourceSpecProblems } from '../resourceSpec';
import { useTrans } from '../translation';
import { IBackend } from '../types';
import { normalisedOptions } from '../walltimes';
import { errorsInWords } from '../fieldErrors';
import { hiddenFields, uiSchemaShowing } from '../placement';
import { IErrorInfo, messageWithoutField } from './ErrorBox';
import { FORM_TEMPLATES, IFormContext } from './formTemplates';

type ErrorTree = Record<string, any>;

/** rjsf extraErrors for a server error on `options.a.b`. */
export function extraErrorsFor(error: IErrorInfo | null): ErrorTree {
  if (!error?.field || !error.field.startsWith('options.')) {
    return {};
  }
  const path = error.field.slice('options.'.length).split('.');
  const root: ErrorTree = {};
  let node = root;
  for (const key of path) {
    node[key] = {};
    node = node[key];
  }
  node.__errors = [messageWithoutField(error)];
  return root;
}

/** extraErrors with one message per top-level field added, named by its title. */
function withFieldErrors(
  tree: ErrorTree,
  problems: Record<string, string>,
  schema: Record<string, any>
): ErrorTree {
  const merged: ErrorTree = { ...tree };
  for (const [field, message] of Object.entries(problems)) {
    const node = { ...(merged[field] ?? {}) };
    const title = schema.properties?.[field]?.title ?? field;
    node.__errors = [...(node.__errors ?? []), `${title}: ${message}`];
    merged[field] = node;
  }
  return merged;
}

/** Hints beside the fields: the limits, and what a walltime written otherwise means. */
function withMeanings(
  hints: Record<string, string>,
  written: Record<string, any>,
  meant: Record<string, any>,
  trans: ReturnType<typeof useTrans>
): Record<string, string> {
  const result = { ...hints };
  for (const [field, value] of Object.entries(meant)) {
    if (value !== written[field]) {
      const means = trans.__('means %1', String(value));
      result[field] = result[field] ? `${means}, ${result[field]}` : means;
    }
  }
  return result;
}

export interface IOptionsFormProps {
  backend: IBackend;
  /** Remounts the form when the selection changes. */
  formKey: string;
  formData: Record<string, any>;
  onChange: (formData: Record<string, any>) => void;
  /** The server's answer to the last launch or preview, if it was an error. */
  serverError: IErrorInfo | null;
}

/**
 * A backend's options form (its JSON Schema through JupyterLab's rjsf
 * FormComponent), grouped by the schema's `ui:groups`, with the chosen
 * partition's limits beside the fields and checked as you type.
 */
export function OptionsForm(props: IOptionsFormProps): JSX.Element {
  const { backend, formKey, formData, onChange, serverError } = props;
  const trans = useTrans();
  const queues = React.useMemo(
    () => siteQueues(backend.schema),
    [backend.schema]
  );
  const limits = queueLimits(queues, formData.queue);
  const schema = React.useMemo(
    () => schemaWithLimits(schemaWithQueueNames(backend.schema), limits),
    [backend.schema, limits?.cpus]
  );
  // What the launch asks for: walltimes as the batch system reads them.
  const meant = normalisedOptions(backend.schema, formData);
  const problems = {
    ...limitProblems(meant, limits, queueWord(backend.schema), trans),
    ...resourceSpecProblems(formData, memoryResource(backend.schema), trans)
  };
  const extraErrors = withFieldErrors(
    extraErrorsFor(serverError),
    problems,
    schema
  );
  // e.g. the scheduler job's size only when the scheduler runs in a job of its own
  const hidden = hiddenFields(backend.schema, formData);
  const formContext: IFormContext = {
    hints: withMeanings(limitHints(limits, trans), formData, meant, trans),
    errorFields: Object.keys(extraErrors),
    defaults: backend.defaults,
    trans
  };
  return (
    <div className="dcl-Form" data-testid="dcl-options-form">
      <FormComponent
        key={formKey}
        schema={schema as any}
        uiSchema={uiSchemaShowing(backend.ui_schema, hidden) as any}
        formData={formData}
        formContext={formContext}
        templates={FORM_TEMPLATES as any}
        validator={validator as any}
        extraErrors={extraErrors as any}
        showErrorList={false}
        // every field says what is wrong with it as it is typed, in words
        liveValidate={true}
        transformErrors={errors => errorsInWords(errors, schema, trans)}
        compact={true}
        onChange={e => onChange((e.formData ?? {}) as Record<string, any>)}
      />
    </div>
  );
}
