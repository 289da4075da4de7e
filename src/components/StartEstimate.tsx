import React from 'react';
import { ClusterModel } from '../model';
import { isBatch } from '../resources';
import { mayStart } from '../startEstimates';
import { useTrans } from '../translation';
import { IScaling, IStartEstimate } from '../types';

/** How long the form rests before its estimate is asked again. */
export const ESTIMATE_DEBOUNCE_MS = 700;

/**
 * The batch system's estimate for the job as the form asks it, asked again
 * (through the preview route) once the form has rested for a moment; null
 * while there is none to show (not a batch form, not asked yet, or the form
 * is not valid). The form never waits for it.
 */
export function useStartEstimate(
  model: ClusterModel,
  backend: string | undefined,
  options: Record<string, any>,
  scaling: IScaling
): IStartEstimate | null {
  const [estimate, setEstimate] = React.useState<IStartEstimate | null>(null);
  const batch = isBatch(options);
  const asked = JSON.stringify([backend, options, scaling]);
  React.useEffect(() => {
    if (!backend || !batch) {
      setEstimate(null);
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      Promise.resolve()
        .then(() => model.preview(backend, options, scaling))
        .then(preview => {
          if (current) {
            setEstimate(
              preview.job_script ? (preview.start_estimate ?? null) : null
            );
          }
        })
        .catch(() => {
          if (current) {
            setEstimate(null); // the form shows what is wrong with it
          }
        });
    }, ESTIMATE_DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [asked]);
  return estimate;
}

/** "May start ~14:05" under the launch summary, or "No start estimate". */
export function StartEstimate(props: {
  model: ClusterModel;
  backend: string | undefined;
  options: Record<string, any>;
  scaling: IScaling;
}): JSX.Element | null {
  const trans = useTrans();
  const estimate = useStartEstimate(
    props.model,
    props.backend,
    props.options,
    props.scaling
  );
  if (!estimate) {
    return null;
  }
  const start = mayStart(estimate.start, trans);
  return (
    <div
      className="dcl-StartEstimate"
      data-testid="dcl-start-estimate"
      data-start={estimate.start ?? ''}
      title={estimate.detail ?? trans.__('The batch system gives no estimate')}
    >
      {start
        ? trans.__('Job as asked: %1', start)
        : trans.__('Job as asked: no start estimate')}
    </div>
  );
}
