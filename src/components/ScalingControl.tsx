import React from 'react';
import { useTrans } from '../translation';
import { IScaling } from '../types';
import { WorkerCount } from './WorkerCount';

export interface IScalingControlProps {
  scaling: IScaling;
  onChange: (scaling: IScaling) => void;
  /** The form launches a fixed number of workers only (no adaptive choice). */
  fixedOnly?: boolean;
}

/** One of the two scaling modes, a radio button with its name. */
function ScalingMode(props: {
  testId: string;
  label: string;
  checked: boolean;
  onChoose: () => void;
}): JSX.Element {
  return (
    <label className="dcl-Scaling-mode">
      <input
        type="radio"
        name="dcl-scaling-mode"
        data-testid={props.testId}
        checked={props.checked}
        onChange={props.onChoose}
      />
      {props.label}
    </label>
  );
}

/**
 * Fixed number of workers, or adaptive between a minimum and a maximum (one
 * row); only the fixed number, said so, where the form allows no other.
 */
export function ScalingControl(props: IScalingControlProps): JSX.Element {
  const { scaling, onChange, fixedOnly } = props;
  const trans = useTrans();
  const adaptive = 'adapt' in scaling && !fixedOnly;
  const workers = 'workers' in scaling ? scaling.workers : 1;
  const adapt = 'adapt' in scaling ? scaling.adapt : { minimum: 0, maximum: 4 };
  return (
    <fieldset className="dcl-Scaling" data-testid="dcl-scaling">
      <legend>{trans.__('Workers')}</legend>
      {fixedOnly ? (
        <span
          className="dcl-Scaling-fixedOnly"
          data-testid="dcl-scaling-fixed-only"
          title={trans.__(
            'The scheduler and its workers share one batch job: the number of workers is set at launch'
          )}
        >
          {trans.__('Fixed size')}
        </span>
      ) : (
        <>
          <ScalingMode
            testId="dcl-scaling-fixed"
            label={trans.__('Fixed')}
            checked={!adaptive}
            onChoose={() => onChange({ workers: Math.max(adapt.minimum, 1) })}
          />
          <ScalingMode
            testId="dcl-scaling-adapt"
            label={trans.__('Adaptive')}
            checked={adaptive}
            onChoose={() =>
              onChange({ adapt: { minimum: 0, maximum: Math.max(workers, 1) } })
            }
          />
        </>
      )}
      {adaptive ? (
        <span className="dcl-Scaling-values">
          <WorkerCount
            label={trans.__('Minimum workers')}
            testId="dcl-adapt-min"
            value={adapt.minimum}
            onChange={minimum => onChange({ adapt: { ...adapt, minimum } })}
          />
          –
          <WorkerCount
            label={trans.__('Maximum workers')}
            testId="dcl-adapt-max"
            value={adapt.maximum}
            onChange={maximum => onChange({ adapt: { ...adapt, maximum } })}
          />
        </span>
      ) : (
        <span className="dcl-Scaling-values">
          <WorkerCount
            label={trans.__('Number of workers')}
            testId="dcl-workers"
            value={workers}
            onChange={count => onChange({ workers: count })}
          />
        </span>
      )}
    </fieldset>
  );
}
