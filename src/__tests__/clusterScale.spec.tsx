/**
 * The card at the size of the seeds' headline cluster: 1,000 workers and 400
 * batch jobs (312 of them pending). What the user sees: exact totals, one page
 * of rows, sortable and filterable, and pending jobs folded by reason.
 */
import { Stream } from '@lumino/signaling';
import React, { act } from 'react';
import { ClusterCard } from '../components/ClusterCard';
import { applyClusterPatch, ClusterModel } from '../model';
import { useSidebarUpdateMeasure } from '../sidebarTiming';
import { CLUSTER_EVENT_SCHEMA, ICluster, IJob, IWorker } from '../types';
import { freshReactRoot, noClusterActions, typeInto } from './reactHarness';

const GiB = 1024 ** 3;

/** Worker i: on host node(i % 40), 1-4 threads, 1-8 GiB; a few not running. */
function worker(i: number): IWorker {
  return {
    name: `w-${i}`,
    address: `tcp://10.0.${Math.floor(i / 250)}.${i % 250}:4000`,
    host: `node${i % 40}`,
    nthreads: 1 + (i % 4),
    memory_limit: (1 + (i % 8)) * GiB,
    status: i % 250 === 1 ? 'paused' : i % 500 === 7 ? 'closing' : 'running',
    job_id: String(5000 + Math.floor(i / 12))
  };
}

function jobs(): IJob[] {
  const rows: IJob[] = [];
  for (let i = 0; i < 400; i++) {
    const job_id = String(5000 + i);
    if (i < 86) {
      rows.push({ job_id, state: 'RUNNING', reason: null, time_left: 1200 });
    } else if (i < 88) {
      rows.push({ job_id, state: 'ERROR', reason: null });
    } else {
      // 232 Resources between 80 Priority: groups gather them.
      const reason = i < 128 || i >= 360 ? 'Priority' : 'Resources';
      rows.push({ job_id, state: 'PENDING', reason });
    }
  }
  return rows;
}

function bigCluster(): ICluster {
  return {
    id: 'big',
    name: 'headline',
    backend: 'slurm',
    profile: null,
    state: 'running',
    error: null,
    scheduler_address: 'tls://10.0.0.1:8786',
    dashboard_link: null,
    dashboard_url: null,
    scaling: { adapt: { minimum: 390, maximum: 1000 } },
    // In the order they joined, not by name.
    workers: Array.from({ length: 1000 }, (_, i) => worker((i * 7) % 1000)),
    jobs: jobs(),
    created: '2026-01-01T00:00:00Z'
  };
}

const actions = noClusterActions({ openJobLog: jest.fn() });

const dom = freshReactRoot();

const byTestId = (id: string, within: ParentNode = dom.container) =>
  within.querySelector(`[data-testid="${id}"]`) as HTMLElement;
const text = (id: string) => byTestId(id)?.textContent;
const click = (element: Element) => act(() => (element as HTMLElement).click());
const workerNames = () =>
  Array.from(dom.container.querySelectorAll('.dcl-WorkerRow')).map(r =>
    r.getAttribute('data-worker-name')
  );
const header = (label: string) =>
  Array.from(dom.container.querySelectorAll('.dcl-WorkerTable th')).find(
    th => th.textContent?.replace(/[▲▼]/, '') === label
  ) as HTMLTableCellElement;

function render(c: ICluster): void {
  act(() =>
    dom.root.render(<ClusterCard cluster={c} actions={actions} baseUrl="/" />)
  );
}

function renderExpanded(c: ICluster = bigCluster()): void {
  render(c);
  click(byTestId('dcl-expand'));
}

function choose(select: HTMLSelectElement, value: string): void {
  act(() => {
    select.value = value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

const filterInput = () =>
  byTestId('dcl-worker-filter').querySelector('input') ??
  (byTestId('dcl-worker-filter') as HTMLInputElement);
const stateSelect = () =>
  (byTestId('dcl-worker-state-filter').querySelector('select') ??
    byTestId('dcl-worker-state-filter')) as HTMLSelectElement;

describe('a card with 1,000 workers and 400 jobs', () => {
  it('shows exact totals and states at a glance, folded', () => {
    render(bigCluster());
    // 1,000 workers with 1-4 threads (2.5 on average) and 1-8 GiB (4.5).
    expect(text('dcl-totals')).toBe(
      '1,000 workers · 2,500 threads · 4.4 TiB memory'
    );
    expect(text('dcl-worker-states')).toBe(
      'Workers: 994 running · 4 paused · 2 closing'
    );
    expect(text('dcl-job-states')).toBe(
      'Jobs: 86 running · 312 pending · 2 in error'
    );
    expect(text('dcl-pending-reasons')).toBe(
      'Pending: Resources (232) · Priority (80)'
    );
    // Folded: no table at all.
    expect(dom.container.querySelectorAll('tr')).toHaveLength(0);
  });

  it('puts one page of 50 workers in the DOM, with previous and next', () => {
    renderExpanded();
    expect(dom.container.querySelectorAll('.dcl-WorkerRow')).toHaveLength(50);
    const pager = byTestId('dcl-pager');
    expect(text('dcl-pager-range')).toBe('1–50 of 1,000');
    expect(
      (byTestId('dcl-pager-previous', pager) as HTMLButtonElement).disabled
    ).toBe(true);
    click(byTestId('dcl-pager-next', pager));
    expect(text('dcl-pager-range')).toBe('51–100 of 1,000');
    expect(workerNames()[0]).toBe('w-50');
    expect(dom.container.querySelectorAll('.dcl-WorkerRow')).toHaveLength(50);
    // The table says how many rows there are, for screen readers.
    expect(byTestId('dcl-workers').getAttribute('aria-rowcount')).toBe('1002');
  });

  it('sorts by a column header, ascending then descending', () => {
    renderExpanded();
    // By name until a header is clicked, whatever order the server has.
    expect(header('Name').getAttribute('aria-sort')).toBe('ascending');
    expect(workerNames().slice(0, 3)).toEqual(['w-0', 'w-1', 'w-2']);

    click(header('Name').querySelector('button')!);
    expect(header('Name').getAttribute('aria-sort')).toBe('descending');
    // Numbers in names sort as numbers: w-999 before w-99.
    expect(workerNames().slice(0, 3)).toEqual(['w-999', 'w-998', 'w-997']);

    click(header('Memory').querySelector('button')!);
    expect(header('Memory').getAttribute('aria-sort')).toBe('ascending');
    expect(header('Name').hasAttribute('aria-sort')).toBe(false);
    // 1 GiB workers first (i % 8 === 0), ties by name.
    expect(workerNames().slice(0, 3)).toEqual(['w-0', 'w-8', 'w-16']);
    const firstRow = dom.container.querySelector('.dcl-WorkerRow')!;
    expect(firstRow.textContent).toContain('1.0 GiB');

    click(header('Job').querySelector('button')!);
    click(header('Job').querySelector('button')!);
    expect(header('Job').getAttribute('aria-sort')).toBe('descending');
    expect(
      dom.container.querySelector('.dcl-WorkerRow')!.getAttribute('data-job-id')
    ).toBe('5083');
  });

  it('filters by state and by host text', () => {
    renderExpanded();
    const options = Array.from(stateSelect().options).map(o => o.textContent);
    expect(options).toEqual([
      'All states (1,000)',
      'running (994)',
      'paused (4)',
      'closing (2)'
    ]);
    choose(stateSelect(), 'paused');
    expect(workerNames()).toEqual(['w-1', 'w-251', 'w-501', 'w-751']);
    expect(text('dcl-worker-count')).toBe('4 of 1,000 workers show all');
    expect(byTestId('dcl-pager')).toBeNull();

    choose(stateSelect(), '');
    typeInto(filterInput(), 'NODE7');
    // node7 only (not node17 or node37): i % 40 === 7.
    expect(workerNames()).toHaveLength(25);
    expect(
      new Set(
        Array.from(dom.container.querySelectorAll('.dcl-WorkerRow-host')).map(
          h => h.textContent
        )
      )
    ).toEqual(new Set(['node7']));

    typeInto(filterInput(), 'nowhere');
    expect(workerNames()).toHaveLength(0);
    expect(text('dcl-workers')).toContain('No worker matches the filter.');
    click(byTestId('dcl-worker-filter-clear'));
    expect(workerNames()).toHaveLength(50);
    expect(filterInput().value).toBe('');
  });

  it('keeps sort, filter and page when a patch adds a worker', () => {
    const before = bigCluster();
    renderExpanded(before);
    typeInto(filterInput(), 'node7');
    click(header('Name').querySelector('button')!);
    expect(workerNames().slice(0, 2)).toEqual(['w-967', 'w-927']);

    const added = { ...worker(1000), host: 'node7' };
    const after = applyClusterPatch(before, { workers: { upsert: [added] } });
    render(after);
    expect(header('Name').getAttribute('aria-sort')).toBe('descending');
    expect(filterInput().value).toBe('node7');
    expect(workerNames().slice(0, 2)).toEqual(['w-1000', 'w-967']);
    expect(text('dcl-worker-count')).toBe('26 of 1,001 workers show all');

    // The page stays too.
    click(byTestId('dcl-worker-filter-clear'));
    click(byTestId('dcl-pager-next', byTestId('dcl-pager')));
    render(applyClusterPatch(after, { workers: { upsert: [worker(1001)] } }));
    expect(text('dcl-pager-range')).toBe('51–100 of 1,002');
  });

  it('folds the 312 pending jobs into one row per reason', () => {
    renderExpanded();
    const groups = Array.from(
      dom.container.querySelectorAll('[data-testid="dcl-job-group"]')
    ) as HTMLButtonElement[];
    expect(groups.map(g => g.textContent)).toEqual([
      'Pending: Resources (232)',
      'Pending: Priority (80)'
    ]);
    expect(groups.map(g => g.getAttribute('aria-expanded'))).toEqual([
      'false',
      'false'
    ]);
    // Folded: the rows are the running and failed jobs, a page of them.
    const jobRows = () =>
      Array.from(dom.container.querySelectorAll('.dcl-JobRow')).map(r =>
        r.getAttribute('data-job-state')
      );
    expect(jobRows()).toHaveLength(50);
    expect(jobRows()).not.toContain('PENDING');
    expect(text('dcl-job-pager')).toContain('1–50 of 88');

    click(groups[1]);
    expect(groups[1].getAttribute('aria-expanded')).toBe('true');
    const priority = groups[1].closest('tbody')!;
    const rows = priority.querySelectorAll('.dcl-JobRow');
    expect(rows).toHaveLength(50);
    expect(rows[0].textContent).toBe('5088PENDINGPriorityLog');
    expect(byTestId('dcl-job-group-pager', priority).textContent).toContain(
      '1–50 of 80'
    );
    click(byTestId('dcl-pager-next', priority));
    expect(priority.querySelectorAll('.dcl-JobRow')).toHaveLength(30);

    // A job that starts leaves its group; the group and its page stay.
    const started = bigCluster().jobs.map(j =>
      j.job_id === '5092' ? { ...j, state: 'RUNNING', reason: null } : j
    );
    render({ ...bigCluster(), jobs: started });
    const regrouped = Array.from(
      dom.container.querySelectorAll('[data-testid="dcl-job-group"]')
    );
    expect(regrouped.map(g => g.textContent)).toEqual([
      'Pending: Resources (232)',
      'Pending: Priority (79)'
    ]);
    expect(regrouped[1].getAttribute('aria-expanded')).toBe('true');
    expect(priority.querySelectorAll('.dcl-JobRow')).toHaveLength(29);
    expect(text('dcl-job-states')).toBe(
      'Jobs: 87 running · 311 pending · 2 in error'
    );
  });
});

describe('the sidebar update measure', () => {
  class FakeEvents {
    readonly stream = new Stream<any, any>(this);
    send(data: Record<string, any>): void {
      this.stream.emit({ schema_id: CLUSTER_EVENT_SCHEMA, ...data });
    }
  }

  function Clusters(props: { model: ClusterModel }): JSX.Element {
    const [, setTick] = React.useState(0);
    React.useEffect(() => {
      const update = () => setTick(t => t + 1);
      props.model.clustersChanged.connect(update);
      return () => {
        props.model.clustersChanged.disconnect(update);
      };
    }, []);
    useSidebarUpdateMeasure(props.model);
    return <>{props.model.clusters.size}</>;
  }

  it('measures from the arrival of a server event to the commit', () => {
    const measure = jest.fn();
    const saved = performance.measure;
    (performance as any).measure = measure;
    try {
      const events = new FakeEvents();
      const model = new ClusterModel({ events: events as any });
      act(() => dom.root.render(<Clusters model={model} />));
      act(() =>
        events.send({
          action: 'updated',
          cluster_id: 'big',
          cluster: bigCluster()
        })
      );
      expect(dom.container.textContent).toBe('1');
      expect(measure).toHaveBeenCalledTimes(1);
      const [name, { start, end }] = measure.mock.calls[0];
      expect(name).toBe('dcl:sidebar-update');
      expect(end).toBeGreaterThanOrEqual(start);
      // An event that changes nothing starts no measure.
      act(() => events.send({ action: 'removed', cluster_id: 'unknown' }));
      expect(model.takeEventArrival()).toBeNull();
      model.dispose();
    } finally {
      (performance as any).measure = saved;
    }
  });
});
