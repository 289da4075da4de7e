import React from 'react';
import { useTrans } from '../translation';
import { IScaling } from '../types';

export interface IScalingControlProps {
  scaling: IScaling;
  onChange: (scaling: IScaling) => void;
}

function toInt(value: string): number {
  const n = parseInt(value, 10);
  return isNaN(n) ? 0 : n;
}

/** Fixed number of workers, or adaptive between a minimum and a maximum (one row). */
export function ScalingControl(props: IScalingControlProps): JSX.Element {
  const { scaling, onChange } = props;
  const trans = useTrans();
  const adaptive = 'adapt' in scaling;
  const workers = 'workers' in scaling ? scaling.workers : 1;
  const adapt = 'adapt' in scaling ? scaling.adapt : { minimum: 0, maximum: 4 };
  return (
    <fieldset className="dcl-Scaling" data-testid="dcl-scaling">
      <legend>{trans.__('Workers')}</legend>
      <label className="dcl-Scaling-mode">
        <input
          type="radio"
          name="dcl-scaling-mode"
          data-testid="dcl-scaling-fixed"
          checked={!adaptive}
          onChange={() => onChange({ workers: Math.max(adapt.minimum, 1) })}
        />
        {trans.__('Fixed')}
      </label>
      <label className="dcl-Scaling-mode">
        <input
          type="radio"
          name="dcl-scaling-mode"
          data-testid="dcl-scaling-adapt"
          checked={adaptive}
          onChange={() =>
            onChange({
              adapt: { minimum: 0, maximum: Math.max(workers, 1) }
            })
          }
        />
        {trans.__('Adaptive')}
      </label>
      {adaptive ? (
        <span className="dcl-Scaling-values">
          <input
            type="number"
            min={0}
            className="jp-mod-styled"
            aria-label={trans.__('Minimum workers')}
            data-testid="dcl-adapt-min"
            value={adapt.minimum}
            onChange={e =>
              onChange({
                adapt: { ...adapt, minimum: toInt(e.target.value) }
              })
            }
          />
          –
          <input
            type="number"
            min={0}
            className="jp-mod-styled"
            aria-label={trans.__('Maximum workers')}
            data-testid="dcl-adapt-max"
            value={adapt.maximum}
            onChange={e =>
              onChange({
                adapt: { ...adapt, maximum: toInt(e.target.value) }
              })
            }
          />
        </span>
      ) : (
        <span className="dcl-Scaling-values">
          <input
            type="number"
            min={0}
            className="jp-mod-styled"
            aria-label={trans.__('Number of workers')}
            data-testid="dcl-workers"
            value={workers}
            onChange={e => onChange({ workers: toInt(e.target.value) })}
          />
        </span>
      )}
    </fieldset>
  );
}
