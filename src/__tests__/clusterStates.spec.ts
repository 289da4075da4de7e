import {
  groupJobs,
  jobCategory,
  pendingReason,
  summarizeJobs,
  workerStates
} from '../clusterStates';
import { filterWorkers, nextSort, sortWorkers } from '../tableView';
import { IJob, IWorker } from '../types';

const job = (job_id: string, state: string, reason: string | null = null) =>
  ({ job_id, state, reason }) as IJob;

describe('job states', () => {
  it('reads SLURM and SGE (mapped) states the same way', () => {
    expect(
      ['RUNNING', 'CONFIGURING', 'PENDING', 'HELD', 'ERROR', 'COMPLETING'].map(
        jobCategory
      )
    ).toEqual(['running', 'starting', 'pending', 'pending', 'error', 'other']);
    expect(['STARTING', 'FAILED', 'TIMEOUT', ''].map(jobCategory)).toEqual([
      'starting',
      'error',
      'error',
      'other'
    ]);
  });

  it('names why a job is pending: the reason, else a telling state', () => {
    expect(pendingReason(job('1', 'PENDING', 'Priority'))).toBe('Priority');
    expect(pendingReason(job('2', 'HELD'))).toBe('HELD');
    expect(pendingReason(job('3', 'PENDING'))).toBe('');
  });

  it('counts by category, other states and pending reasons', () => {
    const jobs = [
      job('1', 'RUNNING'),
      job('2', 'PENDING', 'Priority'),
      job('3', 'PENDING', 'Resources'),
      job('4', 'PENDING', 'Resources'),
      job('5', 'COMPLETING'),
      job('6', 'HELD')
    ];
    const summary = summarizeJobs(jobs);
    expect(summary.byCategory).toEqual({
      running: 1,
      starting: 0,
      pending: 4,
      error: 0,
      other: 1
    });
    expect(summary.otherStates).toEqual([{ key: 'COMPLETING', count: 1 }]);
    expect(summary.pendingReasons).toEqual([
      { key: 'Resources', count: 2 },
      { key: 'Priority', count: 1 },
      { key: 'HELD', count: 1 }
    ]);
    const groups = groupJobs(jobs);
    expect(groups.pending.map(g => [g.reason, g.jobs.length])).toEqual([
      ['Resources', 2],
      ['Priority', 1],
      ['HELD', 1]
    ]);
    expect(groups.others.map(j => j.job_id)).toEqual(['1', '5']);
  });
});

describe('worker views', () => {
  const w = (name: string, host: string, status = 'running', job_id = null) =>
    ({
      name,
      host,
      status,
      job_id,
      address: `tcp://${host}:1`,
      nthreads: 1,
      memory_limit: 1
    }) as IWorker;
  const workers = [
    w('b-10', 'n2', 'paused'),
    w('b-9', 'n1'),
    w('a', 'n10', 'paused')
  ];

  it('counts states with running first', () => {
    expect(workerStates(workers)).toEqual([
      { key: 'running', count: 1 },
      { key: 'paused', count: 2 }
    ]);
  });

  it('sorts naturally with ties by name, missing job ids last', () => {
    const jobs = [
      { ...w('x', 'n1'), job_id: '10' },
      w('y', 'n1'),
      { ...w('z', 'n1'), job_id: '9' }
    ] as IWorker[];
    for (const direction of ['ascending', 'descending'] as const) {
      expect(
        sortWorkers(jobs, { key: 'job', direction }).map(r => r.name)
      ).toEqual(direction === 'ascending' ? ['z', 'x', 'y'] : ['x', 'z', 'y']);
    }
    const names = (rows: IWorker[]) => rows.map(r => r.name);
    expect(
      names(sortWorkers(workers, { key: 'name', direction: 'ascending' }))
    ).toEqual(['a', 'b-9', 'b-10']);
    expect(
      names(sortWorkers(workers, { key: 'host', direction: 'descending' }))
    ).toEqual(['a', 'b-10', 'b-9']);
    expect(
      names(sortWorkers(workers, { key: 'status', direction: 'ascending' }))
    ).toEqual(['a', 'b-10', 'b-9']);
    expect(names(sortWorkers(workers, null))).toEqual(['b-10', 'b-9', 'a']);
    expect(nextSort(null, 'host')).toEqual({
      key: 'host',
      direction: 'ascending'
    });
    expect(nextSort({ key: 'host', direction: 'ascending' }, 'host')).toEqual({
      key: 'host',
      direction: 'descending'
    });
  });

  it('filters by state and text in the name or host', () => {
    const names = (rows: IWorker[]) => rows.map(r => r.name);
    expect(
      names(filterWorkers(workers, { status: 'paused', text: '' }))
    ).toEqual(['b-10', 'a']);
    expect(names(filterWorkers(workers, { status: '', text: ' N1' }))).toEqual([
      'b-9',
      'a'
    ]);
    expect(filterWorkers(workers, { status: '', text: '' })).toBe(workers);
  });
});
