import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import type { Widget } from '@lumino/widgets';
import { translationBundle } from './translation';

export const NO_NOTEBOOK =
  'No notebook is open: open one first, the client code goes below its active cell.';
export const NOT_A_NOTEBOOK =
  'The current tab is not a notebook: select the notebook the client code goes into, then insert again.';

/**
 * The notebook code goes into: the one in the current main-area tab, never a
 * notebook hidden behind another tab (the Launcher, a file, a terminal).
 * Throws, with a message for the user, if that tab is not a notebook.
 */
export function targetNotebook(
  tracker: INotebookTracker | null,
  current: Widget | null,
  trans = translationBundle()
): NotebookPanel {
  const panel = tracker?.currentWidget ?? null;
  if (!panel || !panel.content.model) {
    throw new Error(trans.__(NO_NOTEBOOK));
  }
  if (current !== panel || !panel.isVisible) {
    throw new Error(trans.__(NOT_A_NOTEBOOK));
  }
  return panel;
}

/** Insert `code` as a new code cell below the notebook's active cell. */
export function insertCodeCell(panel: NotebookPanel, code: string): void {
  const notebook = panel.content;
  if (notebook.activeCellIndex < 0 || notebook.widgets.length === 0) {
    // An empty notebook has no cell to insert below.
    NotebookActions.insertAbove(notebook);
  } else {
    NotebookActions.insertBelow(notebook);
  }
  NotebookActions.changeCellType(notebook, 'code');
  notebook.activeCell?.model.sharedModel.setSource(code);
}
