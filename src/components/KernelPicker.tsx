import type { INotebookTracker } from '@jupyterlab/notebook';
import type { ISessionContext } from '@jupyterlab/apputils';
import type { KernelSpec } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';
import React from 'react';
import { useTrans } from '../translation';

/** A Python kernel whose environment a cluster can run. */
export interface IKernelChoice {
  /** The kernelspec's name (what a launch request names). */
  name: string;
  displayName: string;
}

/** The kernels a launch may choose from, and the active notebook's. */
export interface IKernelSource {
  /** Python kernelspecs, by display name. */
  readonly choices: IKernelChoice[];
  /** The kernel of the active notebook (null: no notebook). */
  readonly active: string | null;
  /** Either changed. */
  readonly changed: ISignal<IKernelSource, void>;
}

/**
 * JupyterLab's kernelspecs and the kernel of the notebook last active (the
 * one *Insert client code* writes to), followed as they change.
 */
export class KernelChoices implements IKernelSource {
  constructor(options: {
    specs: KernelSpec.IManager;
    notebooks?: INotebookTracker | null;
  }) {
    this._specs = options.specs;
    this._notebooks = options.notebooks ?? null;
    this._specs.specsChanged.connect(this._emit, this);
    this._notebooks?.currentChanged.connect(this._follow, this);
    this._follow();
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get choices(): IKernelChoice[] {
    const specs = this._specs.specs?.kernelspecs ?? {};
    return Object.values(specs)
      .filter(
        (spec): spec is KernelSpec.ISpecModel =>
          !!spec && spec.language.toLowerCase().startsWith('python')
      )
      .map(spec => ({ name: spec.name, displayName: spec.display_name }))
      .sort((a, b) => a.displayName.localeCompare(b.displayName));
  }

  get active(): string | null {
    const context = this._context;
    if (!context || context.isDisposed) {
      return null;
    }
    return (
      context.session?.kernel?.name ?? context.kernelPreference.name ?? null
    );
  }

  /** Watch the kernel of the notebook that is current now. */
  private _follow(): void {
    const context = this._notebooks?.currentWidget?.sessionContext ?? null;
    if (context !== this._context) {
      this._context?.kernelChanged.disconnect(this._emit, this);
      this._context?.sessionChanged.disconnect(this._emit, this);
      context?.kernelChanged.connect(this._emit, this);
      context?.sessionChanged.connect(this._emit, this);
      this._context = context;
    }
    this._emit();
  }

  private _emit(): void {
    this._changed.emit();
  }

  private _specs: KernelSpec.IManager;
  private _notebooks: INotebookTracker | null;
  private _context: ISessionContext | null = null;
  private _changed = new Signal<this, void>(this);
}

/** What the picker shows and what a launch sends ('' = the server's Python). */
export interface IKernelChoiceState {
  choices: IKernelChoice[];
  active: string | null;
  value: string;
  pick: (name: string) => void;
}

/**
 * The kernel a launch runs: the active notebook's when it is a Python kernel,
 * else the server's Python (''). A choice made here holds while the same
 * notebook kernel is active; another notebook (or kernel) preselects again.
 */
export function useKernelChoice(
  source: IKernelSource | null | undefined
): IKernelChoiceState {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    if (!source) {
      return;
    }
    const update = () => setTick(t => t + 1);
    source.changed.connect(update);
    return () => {
      source.changed.disconnect(update);
    };
  }, [source]);
  const [picked, setPicked] = React.useState<{
    value: string;
    active: string | null;
  } | null>(null);
  const choices = source?.choices ?? [];
  const active = source?.active ?? null;
  const known = (name: string | null) =>
    !!name && choices.some(choice => choice.name === name);
  const preselected = known(active) ? active! : '';
  const holds =
    picked !== null &&
    picked.active === active &&
    (picked.value === '' || known(picked.value));
  return {
    choices,
    active,
    value: holds ? picked.value : preselected,
    pick: value => setPicked({ value, active })
  };
}

/**
 * "Kernel — this notebook's / [Python 3 (ipykernel)]": whose Python the
 * cluster runs, by display name.
 */
export function KernelPicker(props: {
  choice: IKernelChoiceState;
}): JSX.Element {
  const { choices, active, value, pick } = props.choice;
  const trans = useTrans();
  const chosen =
    choices.find(choice => choice.name === value)?.displayName ??
    trans.__("The server's Python");
  return (
    <label
      className="dcl-KernelPicker"
      title={trans.__(
        "The cluster's scheduler and workers run this kernel's Python, so they have the notebook's packages and versions"
      )}
    >
      <span>
        {trans.__('Kernel')}
        {value && value === active && (
          <span className="dcl-KernelPicker-note" data-testid="dcl-kernel-note">
            {' — '}
            {trans.__("this notebook's")}
          </span>
        )}
      </span>
      <select
        className="jp-mod-styled"
        data-testid="dcl-kernel"
        data-kernel={value}
        value={value}
        title={chosen}
        onChange={e => pick(e.target.value)}
      >
        <option value="">{trans.__("The server's Python")}</option>
        {choices.map(choice => (
          <option key={choice.name} value={choice.name}>
            {choice.displayName}
          </option>
        ))}
      </select>
    </label>
  );
}
