/**
 * When pending work may start (issue 24, item 2) and walltime-aware workers
 * (item 4): the card's pending groups with the batch system's estimate, the
 * launch form's estimate for the job as asked, and the lifetime that follows
 * the walltime with adaptive scaling.
 */
import React, { act } from 'react';
import { ClusterCard } from '../components/ClusterCard';
import {
  StartEstimate,
  ESTIMATE_DEBOUNCE_MS
} from '../components/StartEstimate';
import {
  derivedLifetime,
  followedLifetime,
  useLifetimeFollowsWalltime
} from '../lifetimes';
import { ClusterModel } from '../model';
import { formatStartTime } from '../startEstimates';
import { IJob, IScaling } from '../types';
import * as fixtures from './fixtures';
import { freshReactRoot, noClusterActions } from './reactHarness';

declare function require(name: string): any;
declare const __dirname: string;
const fs = require('fs');
const yaml = require('js-yaml');
const defs = yaml.load(
  fs.readFileSync(`${__dirname}/../../schema/backends/jobqueue.yaml`, 'utf8')
).$defs;

const dom = freshReactRoot();
const byTestId = (id: string) =>
  dom.container.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;

/** Today at hh:mm in the browser's zone, as the server sends it (ISO 8601). */
function todayAt(hours: number, minutes: number): string {
  const at = new Date();
  at.setHours(hours, minutes, 0, 0);
  return at.toISOString();
}

describe('pending jobs with an estimated start', () => {
  const waiting = (id: string, start: string | null): IJob => ({
    job_id: id,
    state: 'PENDING',
    reason: 'Resources',
    estimated_start: start
  });

  it('show the earliest one per reason on the card and on their rows', () => {
    const jobs = [
      waiting('1', todayAt(14, 20)),
      waiting('2', todayAt(14, 5)),
      waiting('3', null),
      { job_id: '4', state: 'PENDING', reason: 'Priority' }
    ];
    const cluster = fixtures.cluster({ backend: 'slurm', jobs });
    act(() =>
      dom.root.render(
        <ClusterCard
          cluster={cluster}
          actions={noClusterActions()}
          baseUrl="/"
        />
      )
    );
    expect(byTestId('dcl-pending-reasons')!.textContent).toBe(
      'Pending: Resources (3, may start ~14:05) · Priority (1)'
    );
    act(() => byTestId('dcl-expand')!.click());
    const group = dom.container.querySelector(
      '[data-reason="Resources"] .dcl-JobGroup-label'
    )!;
    expect(group.textContent).toBe('Pending: Resources (3) · may start ~14:05');
    const starts = Array.from(
      dom.container.querySelectorAll('[data-testid="dcl-job-start"]')
    ).map(e => e.textContent);
    expect(starts).toEqual([' · may start ~14:20', ' · may start ~14:05']);
  });

  it('say the date when it is not today', () => {
    const now = new Date(2026, 11, 7, 9, 0);
    const tomorrow = new Date(2026, 11, 8, 14, 5).toISOString();
    expect(formatStartTime(tomorrow, now)).toBe('2026-12-08 14:05');
    expect(formatStartTime('N/A', now)).toBeNull();
  });
});

describe("the launch form's estimate for the job as asked", () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function renderEstimate(model: ClusterModel, options: Record<string, any>) {
    act(() =>
      dom.root.render(
        <StartEstimate
          model={model}
          backend="slurm"
          options={options}
          scaling={{ workers: 1 }}
        />
      )
    );
  }

  it('is asked once the form rests, and says when or that there is none', async () => {
    const asked: Record<string, any>[] = [];
    const detail =
      'Job 38 to start at 2026-12-07T14:05:00 using 1 processors on nodes vm in partition debug';
    let start: string | null = todayAt(14, 5);
    const model = {
      preview: async (_backend: string, options: Record<string, any>) => {
        asked.push(options);
        return {
          code: '',
          job_script: '#!/usr/bin/env bash',
          start_estimate: { start, detail: start ? detail : 'no answer' }
        };
      }
    } as unknown as ClusterModel;
    const form = { cores: 1, walltime: '00:30:00' };
    renderEstimate(model, form);
    renderEstimate(model, { ...form, cores: 2 }); // typed on: one question
    expect(asked).toEqual([]);
    await act(async () => {
      jest.advanceTimersByTime(ESTIMATE_DEBOUNCE_MS);
    });
    expect(asked).toEqual([{ ...form, cores: 2 }]);
    const shown = byTestId('dcl-start-estimate')!;
    expect(shown.textContent).toBe('Job as asked: may start ~14:05');
    expect(shown.title).toBe(detail);

    start = null;
    renderEstimate(model, { ...form, cores: 4 });
    await act(async () => {
      jest.advanceTimersByTime(ESTIMATE_DEBOUNCE_MS);
    });
    expect(byTestId('dcl-start-estimate')!.textContent).toBe(
      'Job as asked: no start estimate'
    );
  });
});

describe('the worker lifetime follows the walltime with adaptive scaling', () => {
  const schema = {
    properties: {
      walltime: defs.slurm_walltime,
      lifetime: defs.lifetime,
      lifetime_stagger: defs.lifetime_stagger
    }
  };
  const adapt: IScaling = { adapt: { minimum: 0, maximum: 4 } };

  it('as the server derives it (the schema examples)', () => {
    const examples = Object.entries(defs.lifetime['x-derived-examples']);
    expect(examples.length).toBeGreaterThan(3);
    for (const [walltime, expected] of examples) {
      const derived = derivedLifetime(walltime);
      const text = derived
        ? `${derived.lifetime} ${derived.lifetime_stagger}`
        : '';
      expect([walltime, text]).toEqual([walltime, expected]);
    }
    const options = { walltime: '30', lifetime: '' }; // SLURM minutes
    expect(followedLifetime(schema, options, adapt)?.lifetime).toBe('25m');
    expect(followedLifetime(schema, options, { workers: 2 })).toEqual({
      lifetime: '',
      lifetime_stagger: ''
    });
  });

  it('shows the derived value in the form until the user changes it', () => {
    let current: Record<string, any> = {};
    let setForm: (o: Record<string, any>) => void = () => undefined;
    let setScale: (s: IScaling) => void = () => undefined;
    function Form(): JSX.Element {
      const [options, setOptions] = React.useState<Record<string, any>>({
        walltime: '00:30:00',
        lifetime: '',
        lifetime_stagger: ''
      });
      const [scaling, setScaling] = React.useState<IScaling>({ workers: 1 });
      useLifetimeFollowsWalltime(schema, options, setOptions, scaling, 'slurm');
      current = options;
      setForm = setOptions;
      setScale = setScaling;
      return <div />;
    }
    act(() => dom.root.render(<Form />));
    expect(current.lifetime).toBe('');
    act(() => setScale(adapt));
    expect([current.lifetime, current.lifetime_stagger]).toEqual([
      '25m',
      '150s'
    ]);
    act(() => setForm({ ...current, walltime: '01:00:00' }));
    expect(current.lifetime).toBe('55m');
    act(() => setForm({ ...current, lifetime: '' })); // cleared: no lifetime
    act(() => setForm({ ...current, walltime: '02:00:00' }));
    expect(current.lifetime).toBe('');
  });
});
