import { FormComponent } from '@jupyterlab/ui-components';
import validator from '@rjsf/validator-ajv8';
import React from 'react';
import { ClusterModel, preselectedProfile } from '../model';
import { APIError } from '../request';
import { IBackend, IPreview, IProfile, IScaling } from '../types';
import { ErrorBox, IErrorInfo, messageWithoutField } from './ErrorBox';
import { ProfileActions } from './ProfileActions';
import { ProfilePicker, Selection, parseSelection } from './ProfilePicker';
import { ScalingControl } from './ScalingControl';

export interface ILaunchPanelProps {
  model: ClusterModel;
  /**
   * Profile preselected when nothing was picked yet (the `defaultProfile`
   * setting); '' for the one the server marks `default`.
   */
  defaultProfile: string;
}

const DEFAULT_SCALING: IScaling = { workers: 1 };

/** What a selection launches: its backend, form values and scaling. */
function resolveSelection(
  model: ClusterModel,
  selection: Selection
): {
  backend: IBackend | null;
  profile: IProfile | null;
  options: Record<string, any>;
  scaling: IScaling;
} {
  const parsed = parseSelection(selection);
  const profile =
    parsed?.kind === 'profile'
      ? (model.profiles.find(p => p.name === parsed.name) ?? null)
      : null;
  const backendName = profile ? profile.backend : parsed?.name;
  const backend = model.backends.find(b => b.name === backendName) ?? null;
  const options = { ...(backend?.defaults ?? {}), ...(profile?.options ?? {}) };
  return {
    backend,
    profile,
    options,
    scaling: profile?.scaling ?? DEFAULT_SCALING
  };
}

/** rjsf extraErrors for a server error on `options.a.b`. */
function extraErrorsFor(error: IErrorInfo | null): Record<string, any> {
  if (!error?.field || !error.field.startsWith('options.')) {
    return {};
  }
  const path = error.field.slice('options.'.length).split('.');
  const root: Record<string, any> = {};
  let node = root;
  for (const key of path) {
    node[key] = {};
    node = node[key];
  }
  node.__errors = [messageWithoutField(error)];
  return root;
}

/** Pick a profile or backend, fill its form, preview and launch. */
export function LaunchPanel(props: ILaunchPanelProps): JSX.Element {
  const { model, defaultProfile } = props;
  const [selection, setSelection] = React.useState<Selection>('');
  const [formData, setFormData] = React.useState<Record<string, any>>({});
  const [scaling, setScaling] = React.useState<IScaling>(DEFAULT_SCALING);
  const [name, setName] = React.useState('');
  const [error, setError] = React.useState<IErrorInfo | null>(null);
  const [preview, setPreview] = React.useState<IPreview | null>(null);
  const [busy, setBusy] = React.useState(false);
  const previewRef = React.useRef<HTMLDivElement>(null);

  // The form can be long: bring a fresh preview into view.
  React.useEffect(() => {
    previewRef.current?.scrollIntoView?.({ block: 'nearest' });
  }, [preview]);

  const select = (next: Selection) => {
    const resolved = resolveSelection(model, next);
    setSelection(next);
    setFormData(resolved.options);
    setScaling(resolved.scaling);
    setError(null);
    setPreview(null);
  };

  /** The default profile, or else the first available backend. */
  const selectDefault = () => {
    const profile = preselectedProfile(
      model.profiles,
      model.backends,
      defaultProfile
    );
    const backend = model.backends.find(b => b.available);
    if (profile) {
      select(`profile:${profile.name}`);
    } else if (backend) {
      select(`backend:${backend.name}`);
    }
  };

  // Preselect the default profile once the catalog is there.
  React.useEffect(() => {
    if (selection || model.backends.length === 0) {
      return;
    }
    selectDefault();
  }, [model.backends, model.profiles, defaultProfile]);

  const { backend, profile } = resolveSelection(model, selection);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      const err = e as Error;
      setError({
        message: err.message,
        field: err instanceof APIError ? err.field : null
      });
    } finally {
      setBusy(false);
    }
  };

  const onPreview = () =>
    run(async () => {
      if (!backend) {
        return;
      }
      setPreview(null);
      setPreview(await model.preview(backend.name, formData, scaling));
    });

  const onLaunch = () =>
    run(async () => {
      if (!backend) {
        return;
      }
      const target = profile
        ? { profile: profile.name }
        : { backend: backend.name };
      await model.launch({
        ...target,
        ...(name.trim() ? { name: name.trim() } : {}),
        options: formData,
        scaling
      });
      setName('');
    });

  return (
    <div className="dcl-LaunchPanel">
      <ProfilePicker
        backends={model.backends}
        profiles={model.profiles}
        selection={selection}
        onSelect={select}
      />
      {profile?.description && (
        <p className="dcl-LaunchPanel-description">{profile.description}</p>
      )}
      {backend && !backend.available && (
        <p className="dcl-LaunchPanel-unavailable">
          {backend.title} is not available here: {backend.reason}
        </p>
      )}
      {backend && (
        <div className="dcl-LaunchPanel-form" data-testid="dcl-options-form">
          <FormComponent
            key={selection}
            schema={backend.schema as any}
            uiSchema={backend.ui_schema as any}
            formData={formData}
            validator={validator as any}
            extraErrors={extraErrorsFor(error) as any}
            showErrorList={false}
            compact={true}
            onChange={e => {
              setFormData((e.formData ?? {}) as any);
              // A field error is about the old value.
              if (error?.field) {
                setError(null);
              }
            }}
          />
        </div>
      )}
      {backend && (
        <>
          <ScalingControl scaling={scaling} onChange={setScaling} />
          <label className="dcl-LaunchPanel-name">
            Name (optional)
            <input
              className="jp-mod-styled"
              data-testid="dcl-name"
              value={name}
              placeholder="generated when empty"
              onChange={e => setName(e.target.value)}
            />
          </label>
          <div className="dcl-LaunchPanel-buttons">
            <button
              className="jp-mod-styled jp-mod-reject"
              data-testid="dcl-preview"
              disabled={busy}
              onClick={onPreview}
            >
              Preview
            </button>
            <button
              className="jp-mod-styled jp-mod-accept"
              data-testid="dcl-launch"
              disabled={busy || !backend.available}
              onClick={onLaunch}
            >
              Launch
            </button>
          </div>
        </>
      )}
      {backend && (
        <ProfileActions
          model={model}
          profile={profile}
          backend={backend.name}
          options={formData}
          scaling={scaling}
          onSaved={saved => select(`profile:${saved}`)}
          onDeleted={selectDefault}
        />
      )}
      {error && <ErrorBox testId="dcl-form-error" error={error} />}
      {preview && (
        <div
          className="dcl-Preview"
          data-testid="dcl-preview-output"
          ref={previewRef}
        >
          <h4>Python (reproduce in code)</h4>
          <pre data-testid="dcl-preview-code">{preview.code}</pre>
          {preview.job_script && (
            <>
              <h4>Job script (submitted for each worker job)</h4>
              <pre data-testid="dcl-preview-job-script">
                {preview.job_script}
              </pre>
            </>
          )}
        </div>
      )}
    </div>
  );
}
