/**
 * What the React specs share: a fresh root in the document for each test,
 * typing as a user does, and cluster actions that do nothing. Not a spec
 * (jest runs `*.spec.ts(x)` only) and not built (tsconfig.json leaves
 * `__tests__` out).
 */
import { act } from 'react';
import { createRoot, Root } from 'react-dom/client';
import { IClusterActions } from '../components/ClusterCard';

/** The container div and React root of the test that runs now. */
export interface IReactRoot {
  readonly container: HTMLDivElement;
  readonly root: Root;
}

/**
 * Before each test: a container div in the document and a React root on it;
 * after it: the root unmounted and the div removed. Call once at the top of a
 * spec file and read `container` and `root` inside the tests.
 */
export function freshReactRoot(): IReactRoot {
  let container: HTMLDivElement;
  let root: Root;

  beforeEach(() => {
    (globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
  });

  afterEach(() => {
    act(() => root.unmount());
    container.remove();
  });

  return {
    get container() {
      return container;
    },
    get root() {
      return root;
    }
  };
}

/** Type into a text input as a user does (React listens to `input`). */
export function typeInto(input: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(
    HTMLInputElement.prototype,
    'value'
  )!.set!;
  act(() => {
    setter.call(input, value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

/**
 * Card actions that resolve and do nothing, as jest mocks; no job log unless
 * `overrides` gives one.
 */
export function noClusterActions(
  overrides: Partial<IClusterActions> = {}
): IClusterActions {
  return {
    insertCode: jest.fn(async () => undefined),
    copyCode: jest.fn(async () => undefined),
    scale: jest.fn(async () => undefined),
    adapt: jest.fn(async () => undefined),
    stop: jest.fn(async () => undefined),
    ...overrides
  };
}
