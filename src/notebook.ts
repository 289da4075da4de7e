import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';

/**
 * Insert `code` as a new code cell below the active cell of the current
 * notebook. Returns false (and tells the user) when no notebook is open.
 */
export function insertCodeCell(
  tracker: INotebookTracker,
  code: string
): boolean {
  const panel = tracker.currentWidget;
  if (!panel || !panel.content.model) {
    Notification.warning(
      'Open a notebook first: the client code goes below its active cell.',
      { autoClose: 5000 }
    );
    return false;
  }
  const notebook = panel.content;
  if (notebook.activeCellIndex < 0 || notebook.widgets.length === 0) {
    // An empty notebook has no cell to insert below.
    NotebookActions.insertAbove(notebook);
  } else {
    NotebookActions.insertBelow(notebook);
  }
  NotebookActions.changeCellType(notebook, 'code');
  const cell = notebook.activeCell;
  if (cell) {
    cell.model.sharedModel.setSource(code);
  }
  return true;
}
