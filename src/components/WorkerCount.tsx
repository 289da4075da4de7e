import React from 'react';

/** The whole number typed, or 0 for an empty or unreadable field. */
function toInt(value: string): number {
  const n = parseInt(value, 10);
  return isNaN(n) ? 0 : n;
}

/**
 * A number-of-workers input (a fixed count, an adaptive minimum or maximum),
 * for the launch form and the card's scaling controls.
 */
export function WorkerCount(props: {
  value: number;
  onChange: (value: number) => void;
  testId: string;
  label?: string;
}): JSX.Element {
  return (
    <input
      type="number"
      min={0}
      className="jp-mod-styled"
      aria-label={props.label}
      data-testid={props.testId}
      value={props.value}
      onChange={e => props.onChange(toInt(e.target.value))}
    />
  );
}
