import React from 'react';
import { formatScaling } from '../format';
import { perWorker } from '../resources';
import { profileProblem, Selection } from '../selection';
import { useTrans } from '../translation';
import { IBackend, IProfile, ProfileSource } from '../types';

/** "SGE · 1 core, 8 GB per worker · adaptive 1–10 workers" */
export function profileSummary(
  profile: IProfile,
  backend: IBackend | undefined,
  trans: ReturnType<typeof useTrans>
): string {
  const options = { ...(backend?.defaults ?? {}), ...profile.options };
  return [
    backend?.title ?? profile.backend,
    perWorker(options, trans),
    formatScaling(profile.scaling, trans)
  ]
    .filter(Boolean)
    .join(' · ');
}

export interface IProfilePickerProps {
  backends: IBackend[];
  profiles: IProfile[];
  selection: Selection;
  onSelect: (selection: Selection) => void;
  /** Shown under the selected profile (its Launch and Edit buttons). */
  selectedActions?: React.ReactNode;
  /** Id of the heading that names the choices. */
  labelledBy?: string;
}

/**
 * One-click choices: profiles grouped by source, each with a one-line summary
 * (backend, per-worker resources, scaling), then the bare backends. Native
 * radio buttons, so arrow keys move between them.
 */
export function ProfilePicker(props: IProfilePickerProps): JSX.Element {
  const { backends, profiles, selection, onSelect, selectedActions } = props;
  const trans = useTrans();
  const titles: Record<ProfileSource, string> = {
    builtin: trans.__('Built-in profiles'),
    site: trans.__('Site profiles'),
    user: trans.__('Your profiles')
  };
  const sources: ProfileSource[] = ['builtin', 'site', 'user'];
  // Backends that cannot launch here are named once, with why, not offered.
  const unavailable = backends.filter(b => !b.available);
  return (
    <div
      className="dcl-Choices"
      role="radiogroup"
      aria-labelledby={props.labelledBy}
      data-testid="dcl-picker"
      data-selection={selection}
    >
      {sources.map(source => {
        const group = profiles.filter(p => p.source === source);
        if (group.length === 0) {
          return null;
        }
        return (
          <div key={source} className="dcl-Choices-group" data-source={source}>
            <div className="dcl-Choices-heading">{titles[source]}</div>
            {group.map(p => {
              const value = `profile:${p.name}`;
              const backend = backends.find(b => b.name === p.backend);
              const problem = profileProblem(p, backends, trans);
              const selected = value === selection;
              return (
                <React.Fragment key={p.name}>
                  <label
                    className={`dcl-Choice${selected ? ' dcl-mod-selected' : ''}${problem ? ' dcl-mod-disabled' : ''}`}
                    title={problem ?? (p.description || undefined)}
                  >
                    <input
                      type="radio"
                      name="dcl-choice"
                      value={value}
                      checked={selected}
                      disabled={!!problem}
                      data-testid={`dcl-choice-profile-${p.name}`}
                      onChange={() => onSelect(value)}
                    />
                    <span className="dcl-Choice-text">
                      <span className="dcl-Choice-title">{p.title}</span>
                      <span
                        className={`dcl-Choice-summary${problem ? ' dcl-Choice-problem' : ''}`}
                      >
                        {problem ?? profileSummary(p, backend, trans)}
                      </span>
                    </span>
                  </label>
                  {selected && selectedActions}
                </React.Fragment>
              );
            })}
          </div>
        );
      })}
      <div className="dcl-Choices-backends">
        <span className="dcl-Choices-heading">
          {profiles.length > 0
            ? trans.__('Or a backend')
            : trans.__('Backends')}
        </span>
        {backends
          .filter(b => b.available)
          .map(b => {
            const value = `backend:${b.name}`;
            const selected = value === selection;
            return (
              <label
                key={b.name}
                className={`dcl-Chip${selected ? ' dcl-mod-selected' : ''}`}
              >
                <input
                  type="radio"
                  name="dcl-choice"
                  value={value}
                  checked={selected}
                  data-testid={`dcl-choice-backend-${b.name}`}
                  onChange={() => onSelect(value)}
                />
                {b.title}
              </label>
            );
          })}
        {unavailable.length > 0 && (
          <span
            className="dcl-Choices-unavailable"
            data-testid="dcl-unavailable-backends"
            title={unavailable
              .map(b =>
                trans.__('%1: %2', b.title, b.reason ?? trans.__('unknown'))
              )
              .join('\n')}
          >
            {trans._n('+%1 unavailable', '+%1 unavailable', unavailable.length)}
          </span>
        )}
      </div>
    </div>
  );
}
