import React from 'react';
import { IRemembered, IRememberedForm, LaunchMemory } from '../memory';
import { ClusterModel, preselectedProfile } from '../model';
import { APIError } from '../request';
import { resourceSummary } from '../resources';
import {
  followMemory,
  memoryResource,
  specFollowsMemory
} from '../resourceSpec';
import {
  changedOptions,
  DEFAULT_SCALING,
  knownOptions,
  parseSelection,
  resolveSelection,
  Selection,
  usable
} from '../selection';
import { useTrans } from '../translation';
import { ICluster, IPreview, IScaling } from '../types';
import { normalisedOptions } from '../walltimes';
import { useLifetimeFollowsWalltime } from '../lifetimes';
import { fixedSizeOnly } from '../placement';
import { ErrorBox, IErrorInfo } from './ErrorBox';
import { IKernelSource, KernelPicker, useKernelChoice } from './KernelPicker';
import { OptionsForm } from './OptionsForm';
import { ProfileActions } from './ProfileActions';
import { ProfilePicker } from './ProfilePicker';
import { ResourceSummary } from './ResourceSummary';
import { StartEstimate } from './StartEstimate';
import { ScalingControl } from './ScalingControl';

export interface ILaunchPanelProps {
  model: ClusterModel;
  /**
   * Profile preselected when nothing was picked yet (the `defaultProfile`
   * setting); '' for the one the server marks `default`. A change selects it.
   */
  defaultProfile: string;
  /** Where the last choice and form values are kept across reloads. */
  memory?: LaunchMemory | null;
  /** Called with each cluster launched from here (its card, a notification). */
  onLaunched?: (cluster: ICluster) => void;
  /**
   * Kernels whose Python a cluster can run (the active notebook's
   * preselected); no choice without it.
   */
  kernels?: IKernelSource | null;
}

/**
 * "New cluster": pick a profile and launch it (two clicks), or open its
 * options (prefilled) or a bare backend's form, watch the resource summary,
 * preview and launch.
 */
export function LaunchPanel(props: ILaunchPanelProps): JSX.Element {
  const { model, defaultProfile, memory } = props;
  const trans = useTrans();
  const [selection, setSelection] = React.useState<Selection>('');
  const [editing, setEditing] = React.useState(false);
  const [formData, setFormData] = React.useState<Record<string, any>>({});
  const [scaling, setScaling] = React.useState<IScaling>(DEFAULT_SCALING);
  const [name, setName] = React.useState('');
  const [error, setError] = React.useState<IErrorInfo | null>(null);
  const [preview, setPreview] = React.useState<IPreview | null>(null);
  const [busy, setBusy] = React.useState(false);
  // undefined while the state database is read; null: nothing remembered.
  const [remembered, setRemembered] = React.useState<
    IRemembered | null | undefined
  >(memory ? undefined : null);
  const forms = React.useRef<Record<string, IRememberedForm>>({});
  const previewRef = React.useRef<HTMLDivElement>(null);
  const previousDefault = React.useRef(defaultProfile);
  // Whether the SGE resource spec follows the memory field (resourceSpec.ts).
  const specFollows = React.useRef(false);
  const kernel = useKernelChoice(props.kernels);

  React.useEffect(() => {
    let current = true;
    memory?.load().then(value => {
      if (current) {
        forms.current = { ...(value?.forms ?? {}) };
        setRemembered(value);
      }
    });
    return () => {
      current = false;
    };
  }, [memory]);

  // The form can be long: bring a fresh preview into view.
  React.useEffect(() => {
    previewRef.current?.scrollIntoView?.({ block: 'nearest' });
  }, [preview]);

  const select = (next: Selection, openOptions?: boolean) => {
    const resolved = resolveSelection(model, next);
    const bare = parseSelection(next)?.kind === 'backend';
    const saved = bare ? forms.current[next] : undefined;
    const options = saved
      ? {
          ...resolved.options,
          ...knownOptions(resolved.backend, saved.options)
        }
      : resolved.options;
    setSelection(next);
    setFormData(options);
    specFollows.current = specFollowsMemory(
      options,
      memoryResource(resolved.backend?.schema)
    );
    setScaling(saved?.scaling ?? resolved.scaling);
    setEditing(openOptions ?? bare);
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

  // Once the catalog (and what was remembered) is there: the last choice,
  // else the default profile.
  React.useEffect(() => {
    if (selection || model.backends.length === 0 || remembered === undefined) {
      return;
    }
    if (remembered && usable(model, remembered.selection)) {
      select(remembered.selection, remembered.editing);
    } else {
      selectDefault();
    }
  }, [model.backends, model.profiles, remembered]);

  // A changed `defaultProfile` setting applies at once.
  React.useEffect(() => {
    if (previousDefault.current === defaultProfile) {
      return;
    }
    previousDefault.current = defaultProfile;
    if (model.backends.length > 0) {
      selectDefault();
    }
  }, [defaultProfile]);

  // Remember the choice and the values set in a bare backend's form (only
  // those that differ from the server's defaults, which may change).
  React.useEffect(() => {
    if (!selection || remembered === undefined) {
      return;
    }
    if (parseSelection(selection)?.kind === 'backend') {
      const defaults = resolveSelection(model, selection).options;
      forms.current[selection] = {
        options: changedOptions(formData, defaults),
        scaling
      };
    }
    memory?.save({ selection, editing, forms: forms.current });
  }, [selection, editing, formData, scaling, remembered]);

  const { backend, profile } = resolveSelection(model, selection);
  // one allocation, MPI: a fixed number of workers (adaptive turns into its maximum)
  const fixedOnly = !!backend && fixedSizeOnly(backend.schema, formData);
  React.useEffect(() => {
    if (fixedOnly && 'adapt' in scaling) {
      setScaling({ workers: Math.max(scaling.adapt.maximum, 1) });
    }
  }, [fixedOnly, scaling]);
  useLifetimeFollowsWalltime(
    backend?.schema,
    formData,
    setFormData,
    scaling,
    selection
  );
  const startEstimate = (
    <StartEstimate
      model={model}
      backend={backend?.name}
      options={formData}
      scaling={scaling}
    />
  );
  const quick = !!profile && !editing;
  // Clusters in the launcher's host processes can run a kernel's Python.
  const kernelPicker = backend?.hosted && props.kernels && (
    <KernelPicker choice={kernel} />
  );
  const summary = backend
    ? resourceSummary(
        backend.name,
        normalisedOptions(backend.schema, formData),
        scaling
      )
    : null;

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      const err = e as Error;
      const field = err instanceof APIError ? err.field : null;
      setError({ message: err.message, field });
      // A field's error shows under the field: open the form.
      if (field?.startsWith('options.')) {
        setEditing(true);
      }
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
      const cluster = await model.launch({
        ...target,
        ...(name.trim() && !quick ? { name: name.trim() } : {}),
        ...(kernelPicker && kernel.value ? { kernel: kernel.value } : {}),
        options: formData,
        scaling
      });
      setName('');
      props.onLaunched?.(cluster);
    });

  const launchButton = backend && (
    <button
      className="jp-mod-styled jp-mod-accept"
      data-testid="dcl-launch"
      disabled={busy || !backend.available}
      onClick={onLaunch}
    >
      {trans.__('Launch')}
    </button>
  );

  const quickActions = quick && profile && backend && summary && (
    <div className="dcl-QuickLaunch" data-testid="dcl-quick-launch">
      {profile.description && (
        <p className="dcl-QuickLaunch-description" title={profile.description}>
          {profile.description}
        </p>
      )}
      <ResourceSummary summary={summary} />
      {startEstimate}
      {kernelPicker}
      <div className="dcl-LaunchPanel-buttons">
        {launchButton}
        <button
          className="jp-mod-styled"
          data-testid="dcl-edit-options"
          disabled={busy}
          title={trans.__('Change the options before launching')}
          onClick={() => setEditing(true)}
        >
          {trans.__('Edit options')}
        </button>
      </div>
      {error && <ErrorBox testId="dcl-form-error" error={error} />}
    </div>
  );

  return (
    <section
      className="dcl-LaunchPanel"
      aria-labelledby="dcl-new-cluster-heading"
    >
      <h3 id="dcl-new-cluster-heading" className="dcl-Section-heading">
        {trans.__('New cluster')}
      </h3>
      <ProfilePicker
        backends={model.backends}
        profiles={model.profiles}
        selection={selection}
        onSelect={next => select(next)}
        selectedActions={quickActions}
        labelledBy="dcl-new-cluster-heading"
      />
      {!quick && backend && summary && (
        <div className="dcl-LaunchForm" data-testid="dcl-launch-form">
          {profile && (
            <div className="dcl-LaunchForm-header">
              <span>{trans.__('Options of “%1”', profile.title)}</span>
              <button
                className="jp-mod-styled"
                data-testid="dcl-close-options"
                title={trans.__("Back to the profile's own options")}
                onClick={() => select(selection, false)}
              >
                {trans.__('Close')}
              </button>
            </div>
          )}
          {!backend.available && (
            <p className="dcl-LaunchPanel-unavailable">
              {trans.__(
                '%1 is not available here: %2',
                backend.title,
                backend.reason ?? ''
              )}
            </p>
          )}
          <OptionsForm
            backend={backend}
            formKey={selection}
            formData={formData}
            serverError={error}
            onChange={data => {
              const followed = followMemory(
                formData,
                data,
                memoryResource(backend.schema),
                specFollows.current
              );
              specFollows.current = followed.follows;
              setFormData(followed.options);
              // A field error is about the old value.
              if (error?.field) {
                setError(null);
              }
            }}
          />
          <ScalingControl
            scaling={scaling}
            onChange={setScaling}
            fixedOnly={fixedOnly}
          />
          <label className="dcl-LaunchPanel-name">
            <span>{trans.__('Name')}</span>
            <input
              className="jp-mod-styled"
              data-testid="dcl-name"
              value={name}
              // short enough for the narrowest sidebar; the rest in the tooltip
              placeholder={trans.__('optional')}
              title={trans.__('Optional: a name is generated when empty')}
              onChange={e => setName(e.target.value)}
            />
          </label>
          {kernelPicker}
          <div className="dcl-LaunchBar" data-testid="dcl-launch-bar">
            <ResourceSummary summary={summary} />
            {startEstimate}
            {error && <ErrorBox testId="dcl-form-error" error={error} />}
            <div className="dcl-LaunchPanel-buttons">
              <button
                className="jp-mod-styled jp-mod-reject"
                data-testid="dcl-preview"
                disabled={busy}
                onClick={onPreview}
              >
                {trans.__('Preview')}
              </button>
              {launchButton}
            </div>
          </div>
          {preview && (
            <div
              className="dcl-Preview"
              data-testid="dcl-preview-output"
              ref={previewRef}
            >
              <h4>{trans.__('Python (reproduce in code)')}</h4>
              <pre data-testid="dcl-preview-code">{preview.code}</pre>
              {preview.job_script && (
                <>
                  <h4>
                    {trans.__('Job script (submitted for each worker job)')}
                  </h4>
                  <pre data-testid="dcl-preview-job-script">
                    {preview.job_script}
                  </pre>
                </>
              )}
              {preview.scheduler_job_script && (
                <>
                  <h4>
                    {trans.__(
                      "Scheduler's job script (submitted once; the cluster ends with it)"
                    )}
                  </h4>
                  <pre data-testid="dcl-preview-scheduler-job-script">
                    {preview.scheduler_job_script}
                  </pre>
                </>
              )}
            </div>
          )}
          <ProfileActions
            model={model}
            profile={profile}
            backend={backend.name}
            options={formData}
            scaling={scaling}
            onSaved={saved => select(`profile:${saved}`, true)}
            onDeleted={selectDefault}
          />
        </div>
      )}
    </section>
  );
}
