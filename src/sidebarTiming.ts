/**
 * How long the sidebar takes to show a live update, measured in every
 * browser (always on: one `performance.measure` per render is cheap).
 *
 * Each measure named `dcl:sidebar-update` starts when a cluster event from
 * the server reached the model (`ClusterModel._onEmission`, after the
 * WebSocket message was parsed) and ends when React has committed the
 * sidebar's DOM for it (a layout effect: after the DOM is updated, before the
 * browser paints). Events that arrive before one render count from the
 * first. Read them with
 * `performance.getEntriesByName('dcl:sidebar-update')` or, across the periodic
 * clearing below, a `PerformanceObserver` (benchmarks/sidebar.mjs does).
 */
import React from 'react';
import { ClusterModel } from './model';

export const SIDEBAR_UPDATE_MEASURE = 'dcl:sidebar-update';

/**
 * The browser keeps every measure until it is cleared: a sidebar open for
 * days with a busy cluster would keep hundreds of thousands. Clear ours after
 * this many.
 */
const MEASURES_KEPT = 5000;
let recorded = 0;

/** Record a measure after each render that shows a server event. */
export function useSidebarUpdateMeasure(model: ClusterModel): void {
  React.useLayoutEffect(() => {
    const start = model.takeEventArrival();
    if (start === null || typeof performance?.measure !== 'function') {
      return;
    }
    if (++recorded > MEASURES_KEPT) {
      performance.clearMeasures?.(SIDEBAR_UPDATE_MEASURE);
      recorded = 1;
    }
    try {
      performance.measure(SIDEBAR_UPDATE_MEASURE, {
        start,
        end: performance.now()
      });
    } catch {
      // A browser without User Timing Level 3 (measure options): no measure.
    }
  });
}
