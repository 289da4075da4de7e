import { Dialog, showDialog } from '@jupyterlab/apputils';
import React from 'react';
import { ClusterModel } from '../model';
import { APIError } from '../request';
import { translationBundle, useTrans } from '../translation';
import { IProfile, IProfileRequest, IScaling } from '../types';
import { ErrorBox, IErrorInfo } from './ErrorBox';

/** Ask the user to confirm deleting a profile; resolves true to delete. */
export async function confirmDelete(
  profile: IProfile,
  trans = translationBundle()
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Delete profile'),
    body: trans.__(
      'Delete your profile "%1" (%2)? This cannot be undone.',
      profile.title,
      profile.name
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Delete') })
    ]
  });
  return result.button.accept;
}

export interface IProfileActionsProps {
  model: ClusterModel;
  /** The selected profile, if a profile (not a bare backend) is selected. */
  profile: IProfile | null;
  /** What the form holds now: saved as the profile's content. */
  backend: string;
  options: Record<string, any>;
  scaling: IScaling;
  /** Called with the saved profile's name, to select it. */
  onSaved: (name: string) => void;
  /** Called after the selected profile was deleted. */
  onDeleted: () => void;
  /** Confirmation before deleting (a dialog by default). */
  confirm?: (profile: IProfile) => Promise<boolean>;
}

function toError(e: unknown): IErrorInfo {
  const err = e as Error;
  return {
    message: err.message,
    field: err instanceof APIError ? err.field : null
  };
}

/**
 * Save the form as a user profile, update or delete the selected user
 * profile. Built-in and site profiles are read-only: no update/delete.
 */
export function ProfileActions(props: IProfileActionsProps): JSX.Element {
  const { model, profile, backend, options, scaling } = props;
  const trans = useTrans();
  const [editing, setEditing] = React.useState(false);
  const [name, setName] = React.useState('');
  const [title, setTitle] = React.useState('');
  const [description, setDescription] = React.useState('');
  const [error, setError] = React.useState<IErrorInfo | null>(null);
  const [busy, setBusy] = React.useState(false);
  const [notice, setNotice] = React.useState<string | null>(null);
  const ownProfile = profile?.source === 'user' ? profile : null;

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await action();
    } catch (e) {
      setError(toError(e));
    } finally {
      setBusy(false);
    }
  };

  const body = (
    fields: Pick<IProfileRequest, 'name' | 'title' | 'description'>
  ): IProfileRequest => ({ ...fields, backend, options, scaling });

  const startEditing = () => {
    setEditing(true);
    setError(null);
    setNotice(null);
    setName('');
    setTitle('');
    setDescription('');
  };

  const onSaveAs = () =>
    run(async () => {
      const saved = await model.saveProfile(
        body({
          name: name.trim(),
          title: title.trim() || name.trim(),
          description: description.trim() || null
        })
      );
      setEditing(false);
      props.onSaved(saved.name);
      setNotice(trans.__('Saved as "%1".', saved.title));
    });

  const onUpdate = () =>
    run(async () => {
      if (!ownProfile) {
        return;
      }
      const saved = await model.saveProfile(
        body({
          name: ownProfile.name,
          title: ownProfile.title,
          description: ownProfile.description || null
        }),
        ownProfile.name
      );
      props.onSaved(saved.name);
      setNotice(trans.__('Updated "%1".', saved.title));
    });

  const onDelete = () =>
    run(async () => {
      if (!ownProfile) {
        return;
      }
      const confirm =
        props.confirm ?? ((p: IProfile) => confirmDelete(p, trans));
      if (!(await confirm(ownProfile))) {
        return;
      }
      await model.deleteProfile(ownProfile.name);
      props.onDeleted();
      setNotice(trans.__('Deleted "%1".', ownProfile.title));
    });

  const fieldClass = (field: string) =>
    error?.field === field ? 'jp-mod-styled dcl-mod-invalid' : 'jp-mod-styled';

  return (
    <div className="dcl-ProfileActions" data-testid="dcl-profile-actions">
      <div className="dcl-ProfileActions-buttons">
        <button
          className="jp-mod-styled"
          data-testid="dcl-profile-save-as"
          disabled={busy || editing}
          onClick={startEditing}
        >
          {trans.__('Save as profile…')}
        </button>
        {ownProfile && (
          <>
            <button
              className="jp-mod-styled"
              data-testid="dcl-profile-update"
              disabled={busy}
              title={trans.__(
                'Save the form over your profile "%1"',
                ownProfile.title
              )}
              onClick={onUpdate}
            >
              {trans.__('Update profile')}
            </button>
            <button
              className="jp-mod-styled jp-mod-warn"
              data-testid="dcl-profile-delete"
              disabled={busy}
              title={trans.__('Delete your profile "%1"', ownProfile.title)}
              onClick={onDelete}
            >
              {trans.__('Delete profile')}
            </button>
          </>
        )}
      </div>
      {editing && (
        <form
          className="dcl-ProfileEditor"
          data-testid="dcl-profile-editor"
          onSubmit={e => {
            e.preventDefault();
            void onSaveAs();
          }}
        >
          <label>
            {trans.__('Name')}
            <input
              className={fieldClass('name')}
              data-testid="dcl-profile-name"
              value={name}
              required
              placeholder={trans.__('e.g. my-local')}
              title={trans.__(
                "Letters, digits, '_', '.', '-'; used by quick_connect(name)"
              )}
              onChange={e => setName(e.target.value)}
            />
          </label>
          <label>
            {trans.__('Title')}
            <input
              className={fieldClass('title')}
              data-testid="dcl-profile-title"
              value={title}
              placeholder={trans.__('shown in the list (defaults to the name)')}
              onChange={e => setTitle(e.target.value)}
            />
          </label>
          <label>
            {trans.__('Description (optional)')}
            <textarea
              className={fieldClass('description')}
              data-testid="dcl-profile-description"
              value={description}
              rows={2}
              onChange={e => setDescription(e.target.value)}
            />
          </label>
          <div className="dcl-ProfileEditor-buttons">
            <button
              type="button"
              className="jp-mod-styled jp-mod-reject"
              data-testid="dcl-profile-cancel"
              disabled={busy}
              onClick={() => {
                setEditing(false);
                setError(null);
              }}
            >
              {trans.__('Cancel')}
            </button>
            <button
              type="submit"
              className="jp-mod-styled jp-mod-accept"
              data-testid="dcl-profile-save"
              disabled={busy || !name.trim()}
            >
              {trans.__('Save')}
            </button>
          </div>
        </form>
      )}
      {error && <ErrorBox testId="dcl-profile-error" error={error} />}
      {notice && (
        <div
          className="dcl-ProfileActions-notice"
          role="status"
          data-testid="dcl-profile-notice"
        >
          {notice}
        </div>
      )}
    </div>
  );
}
