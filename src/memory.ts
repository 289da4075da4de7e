/**
 * What the sidebar remembers across reloads, in JupyterLab's state database
 * (saved with the workspace): the last choice, whether its options were open,
 * and the form values last used with each bare backend.
 */
import type { IStateDB } from '@jupyterlab/statedb';
import type { ReadonlyPartialJSONValue } from '@lumino/coreutils';
import { IScaling } from './types';

/** Form values of one choice. */
export interface IRememberedForm {
  options: Record<string, any>;
  scaling: IScaling;
}

export interface IRemembered {
  /** `profile:NAME` or `backend:NAME`. */
  selection: string;
  /** The options form was open. */
  editing: boolean;
  /** Values by selection (bare backends). */
  forms: Record<string, IRememberedForm>;
}

export const STATE_KEY = 'dask-cluster-launcher:launch';

function isRemembered(value: unknown): value is IRemembered {
  const v = value as IRemembered | null;
  return (
    !!v &&
    typeof v === 'object' &&
    typeof v.selection === 'string' &&
    typeof v.editing === 'boolean' &&
    !!v.forms &&
    typeof v.forms === 'object'
  );
}

/** Reads once, then saves the latest value at most every `delay` ms. */
export class LaunchMemory {
  constructor(state: IStateDB | null, delay = 300) {
    this._state = state;
    this._delay = delay;
  }

  /** The remembered value; null when there is none (or no state database). */
  async load(): Promise<IRemembered | null> {
    if (!this._state) {
      return null;
    }
    try {
      const value = await this._state.fetch(STATE_KEY);
      return isRemembered(value) ? value : null;
    } catch (reason) {
      console.warn('dask-cluster-launcher: state not loaded', reason);
      return null;
    }
  }

  /** Remember `value` (debounced). */
  save(value: IRemembered): void {
    if (!this._state) {
      return;
    }
    this._latest = value;
    if (this._timer === null) {
      this._timer = setTimeout(() => void this.flush(), this._delay);
    }
  }

  /** Write what is pending now. */
  async flush(): Promise<void> {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    const value = this._latest;
    this._latest = null;
    if (value && this._state) {
      try {
        await this._state.save(
          STATE_KEY,
          value as unknown as ReadonlyPartialJSONValue
        );
      } catch (reason) {
        console.warn('dask-cluster-launcher: state not saved', reason);
      }
    }
  }

  private _state: IStateDB | null;
  private _delay: number;
  private _latest: IRemembered | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
}
