import {
  caretLeftIcon,
  caretRightIcon,
  LabIcon
} from '@jupyterlab/ui-components';
import React from 'react';
import { formatCount } from '../format';
import { IPage } from '../tableView';
import { useTrans } from '../translation';

/** The previous or the next page: an arrow, named for screen readers. */
function PageButton(props: {
  testId: string;
  label: string;
  icon: LabIcon;
  disabled: boolean;
  onClick: () => void;
}): JSX.Element {
  return (
    <button
      className="dcl-Pager-button"
      data-testid={props.testId}
      disabled={props.disabled}
      aria-label={props.label}
      title={props.label}
      onClick={props.onClick}
    >
      <props.icon.react tag="span" />
    </button>
  );
}

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
      <PageButton
        testId="dcl-pager-previous"
        label={trans.__('Previous page')}
        icon={caretLeftIcon}
        disabled={!page.hasPrevious}
        onClick={page.previous}
      />
      <span className="dcl-Pager-range" data-testid="dcl-pager-range">
        {trans.__(
          '%1–%2 of %3',
          formatCount(page.start + 1),
          formatCount(page.end),
          formatCount(page.total)
        )}
      </span>
      <PageButton
        testId="dcl-pager-next"
        label={trans.__('Next page')}
        icon={caretRightIcon}
        disabled={!page.hasNext}
        onClick={page.next}
      />
    </div>
  );
}
