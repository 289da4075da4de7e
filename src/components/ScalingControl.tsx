import React from 'react';
import { IScaling } from '../types';

export interface IScalingControlProps {
  scaling: IScaling;
  onChange: (scaling: IScaling) => void;
}

function toInt(value: string): number {
  const n = parseInt(value, 10);
  return isNaN(n) ? 0 : n;
}

/** Fixed number of workers, or adaptive between a minimum and a maximum. */
export function ScalingControl(props: IScalingControlProps): JSX.Element {
  const { scaling, onChange } = props;
  const adaptive = 'adapt' in scaling;
  const workers = 'workers' in scaling ? scaling.workers : 1;
  const adapt = 'adapt' in scaling ? scaling.adapt : { minimum: 0, maximum: 4 };
  return (
    <fieldset className="dcl-Scaling" data-testid="dcl-scaling">
      <legend>Scaling</legend>
      <label className="dcl-Scaling-mode">
        <input
          type="radio"
          name="dcl-scaling-mode"
          data-testid="dcl-scaling-fixed"
          checked={!adaptive}
          onChange={() => onChange({ workers: Math.max(adapt.minimum, 1) })}
        />
        Fixed
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
        Adaptive
      </label>
      {adaptive ? (
        <div className="dcl-Scaling-values">
          <label>
            minimum
            <input
              type="number"
              min={0}
              className="jp-mod-styled"
              data-testid="dcl-adapt-min"
              value={adapt.minimum}
              onChange={e =>
                onChange({
                  adapt: { ...adapt, minimum: toInt(e.target.value) }
                })
              }
            />
          </label>
          <label>
            maximum
            <input
              type="number"
              min={0}
              className="jp-mod-styled"
              data-testid="dcl-adapt-max"
              value={adapt.maximum}
              onChange={e =>
                onChange({
                  adapt: { ...adapt, maximum: toInt(e.target.value) }
                })
              }
            />
          </label>
        </div>
      ) : (
        <div className="dcl-Scaling-values">
          <label>
            workers
            <input
              type="number"
              min={0}
              className="jp-mod-styled"
              data-testid="dcl-workers"
              value={workers}
              onChange={e => onChange({ workers: toInt(e.target.value) })}
            />
          </label>
        </div>
      )}
    </fieldset>
  );
}
