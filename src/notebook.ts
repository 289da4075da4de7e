import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { translationBundle } from './translation';

export const NO_NOTEBOOK =
  'No notebook is open: open one first, the client code goes below its active cell.';

/** The notebook code goes into; throws (with a message for the user) if none is open. */
export function targetNotebook(
  tracker: INotebookTracker | null,
  trans = translationBundle()
): NotebookPanel {
  const panel = tracker?.currentWidget ?? null;
  if (!panel || !panel.content.model) {
    throw new Error(trans.__(NO_NOTEBOOK));
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
