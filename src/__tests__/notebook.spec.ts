import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';
import { NO_NOTEBOOK, NOT_A_NOTEBOOK, targetNotebook } from '../notebook';

/** A notebook panel as far as targetNotebook looks at it. */
function notebookPanel(visible = true): NotebookPanel {
  return {
    content: { model: {} },
    isVisible: visible
  } as unknown as NotebookPanel;
}

const tracker = (panel: NotebookPanel | null) =>
  ({ currentWidget: panel }) as unknown as INotebookTracker;

describe('The notebook client code goes into', () => {
  it('is the notebook of the current tab', () => {
    const panel = notebookPanel();
    expect(targetNotebook(tracker(panel), panel)).toBe(panel);
  });

  it('is never a notebook behind another tab (the Launcher)', () => {
    const panel = notebookPanel(false);
    const launcher = new Widget();
    expect(() => targetNotebook(tracker(panel), launcher)).toThrow(
      NOT_A_NOTEBOOK
    );
  });

  it('says when no notebook is open', () => {
    expect(() => targetNotebook(tracker(null), new Widget())).toThrow(
      NO_NOTEBOOK
    );
  });
});
