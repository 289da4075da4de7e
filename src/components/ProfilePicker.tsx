import React from 'react';
import { IBackend, IProfile, ProfileSource } from '../types';

/** `profile:NAME`, `backend:NAME`, or '' for nothing picked. */
export type Selection = string;

export function parseSelection(
  selection: Selection
): { kind: 'profile' | 'backend'; name: string } | null {
  const match = /^(profile|backend):(.+)$/.exec(selection);
  return match
    ? { kind: match[1] as 'profile' | 'backend', name: match[2] }
    : null;
}

const SOURCE_TITLES: Record<ProfileSource, string> = {
  builtin: 'Built-in profiles',
  site: 'Site profiles',
  user: 'Your profiles'
};

export interface IProfilePickerProps {
  backends: IBackend[];
  profiles: IProfile[];
  selection: Selection;
  onSelect: (selection: Selection) => void;
}

/** Profiles grouped by source, then the bare backends. */
export function ProfilePicker(props: IProfilePickerProps): JSX.Element {
  const { backends, profiles, selection, onSelect } = props;
  const available = new Map(backends.map(b => [b.name, b]));
  const sources: ProfileSource[] = ['builtin', 'site', 'user'];
  return (
    <label className="dcl-ProfilePicker">
      Profile or backend
      <select
        className="jp-mod-styled"
        data-testid="dcl-picker"
        value={selection}
        onChange={e => onSelect(e.target.value)}
      >
        {!selection && <option value="">Choose…</option>}
        {sources.map(source => {
          const group = profiles.filter(p => p.source === source);
          if (group.length === 0) {
            return null;
          }
          return (
            <optgroup key={source} label={SOURCE_TITLES[source]}>
              {group.map(p => {
                const backend = available.get(p.backend);
                const reason =
                  p.error ??
                  (!backend
                    ? `unknown backend ${p.backend}`
                    : !backend.available
                      ? (backend.reason ?? `${backend.title} is not available`)
                      : null);
                return (
                  <option
                    key={p.name}
                    value={`profile:${p.name}`}
                    disabled={!!reason}
                    title={reason ?? p.description}
                  >
                    {p.title}
                    {reason ? ` (${reason})` : ''}
                  </option>
                );
              })}
            </optgroup>
          );
        })}
        <optgroup label="Backends">
          {backends.map(b => (
            <option
              key={b.name}
              value={`backend:${b.name}`}
              disabled={!b.available}
              title={b.reason ?? ''}
            >
              {b.title}
              {b.available ? '' : ` (unavailable: ${b.reason ?? 'unknown'})`}
            </option>
          ))}
        </optgroup>
      </select>
    </label>
  );
}
