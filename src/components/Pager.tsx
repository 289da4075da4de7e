import { caretLeftIcon, caretRightIcon } from '@jupyterlab/ui-components';
import React from 'react';
import { formatCount } from '../format';
import { IPage } from '../tableView';
import { useTrans } from '../translation';

/**
 * "1–50 of 1,000" with previous and next buttons, for a table that shows one
 * page of its rows. Nothing when everything fits on one page.
 */
export function Pager(props: {
  page: IPage;
  /** What the rows are, for screen readers ("workers", "pending jobs"). */
  label: string;
  testId?: string;
}): JSX.Element | null {
  const { page, label } = props;
  const trans = useTrans();
  if (!page.hasPrevious && !page.hasNext) {
    return null;
  }
  return (
    <div
      className="dcl-Pager"
      role="group"
      aria-label={trans.__('Pages of %1', label)}
      data-testid={props.testId ?? 'dcl-pager'}
    >
      <button
        className="dcl-Pager-button"
        data-testid="dcl-pager-previous"
        disabled={!page.hasPrevious}
        aria-label={trans.__('Previous page')}
        title={trans.__('Previous page')}
        onClick={page.previous}
      >
        <caretLeftIcon.react tag="span" />
      </button>
      <span className="dcl-Pager-range" data-testid="dcl-pager-range">
        {trans.__(
          '%1–%2 of %3',
          formatCount(page.start + 1),
          formatCount(page.end),
          formatCount(page.total)
        )}
      </span>
      <button
        className="dcl-Pager-button"
        data-testid="dcl-pager-next"
        disabled={!page.hasNext}
        aria-label={trans.__('Next page')}
        title={trans.__('Next page')}
        onClick={page.next}
      >
        <caretRightIcon.react tag="span" />
      </button>
    </div>
  );
}
