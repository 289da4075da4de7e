import {
  limitHints,
  limitProblems,
  parseQueueTitle,
  queueLimits,
  schemaWithLimits,
  schemaWithQueueNames,
  siteQueues
} from '../limits';
import {
  formatHms,
  formatSize,
  parseBytes,
  parseWalltime,
  perWorker,
  processesPerJob,
  resourceSummary
} from '../resources';
import { translationBundle } from '../translation';

const trans = translationBundle();

describe('sizes and times as dask and the batch systems read them', () => {
  it.each([
    ['4 GB', 4e9],
    ['8 GiB', 8 * 2 ** 30],
    ['10GB', 10e9],
    ['8 G', 8e9],
    ['1.5 gib', 1.5 * 2 ** 30],
    ['500 MB', 5e8],
    ['12', 12],
    ['auto', null],
    ['4 XB', null],
    [null, null]
  ])('parseBytes(%p) = %p', (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes);
  });

  it.each([
    ['00:30:00', 1800],
    ['1-02:00:00', 93600],
    ['100:00:00', 360000],
    ['0:61:00', null],
    ['30m', null]
  ])('parseWalltime(%p) = %p', (text, seconds) => {
    expect(parseWalltime(text)).toBe(seconds);
  });

  it('writes limits as the server does', () => {
    expect(formatHms(1800)).toBe('00:30:00');
    expect(formatHms(360000)).toBe('100:00:00');
    expect(formatSize(4e9, false)).toBe('4 GB');
    expect(formatSize(16777216000, true)).toBe('15.6 GiB');
    expect(formatSize(2 ** 30, true)).toBe('1 GiB');
  });

  it("takes dask-jobqueue's worker processes when the form leaves them empty", () => {
    expect(processesPerJob({ cores: 4 })).toBe(4);
    expect(processesPerJob({ cores: 32 })).toBe(8);
    expect(processesPerJob({ cores: 6 })).toBe(3);
    expect(processesPerJob({ cores: 7 })).toBe(7);
    expect(processesPerJob({ cores: 32, processes: 1 })).toBe(1);
    expect(processesPerJob({ cores: 8, processes: '' })).toBe(4);
  });
});

describe('site queues', () => {
  const titled = {
    properties: {
      queue: {
        title: 'Partition',
        oneOf: [
          { const: '', title: '(site default)' },
          {
            const: 'debug',
            title: 'debug (up, no time limit, 16 CPUs, 15.6 GiB)'
          },
          {
            const: 'short',
            title: 'short (up, max 00:30:00, 16 CPUs, 15.6 GiB)'
          }
        ]
      }
    }
  };

  it('reads the limits from the titles of the choices', () => {
    expect(siteQueues(titled)).toEqual([
      {
        name: 'debug',
        state: 'up',
        time_limit: null,
        cpus: 16,
        memory: 15.6 * 2 ** 30
      },
      {
        name: 'short',
        state: 'up',
        time_limit: 1800,
        cpus: 16,
        memory: 15.6 * 2 ** 30
      }
    ]);
    expect(
      parseQueueTitle('all.q', 'all.q (up, no time limit, 16 CPUs)')
    ).toEqual({
      name: 'all.q',
      state: 'up',
      time_limit: null,
      cpus: 16,
      memory: null
    });
  });

  it("prefers the server's x-queues list (exact, with the default)", () => {
    const schema = {
      properties: {
        queue: {
          ...titled.properties.queue,
          'x-queues': [
            {
              name: 'debug',
              state: 'up',
              time_limit: null,
              cpus: 16,
              memory: 1e10,
              default: true
            },
            {
              name: 'short',
              state: 'up',
              time_limit: 1800,
              cpus: 8,
              memory: 2e9,
              default: false
            }
          ]
        }
      }
    };
    const queues = siteQueues(schema);
    expect(queues.map(q => q.memory)).toEqual([1e10, 2e9]);
    // '' is the site default queue.
    expect(queueLimits(queues, '')).toEqual({
      queue: 'debug',
      timeLimit: null,
      cpus: 16,
      memory: 1e10
    });
    expect(queueLimits(queues, 'short')).toEqual({
      queue: 'short',
      timeLimit: 1800,
      cpus: 8,
      memory: 2e9
    });
    expect(queueLimits(queues, 'nope')).toBeNull();
  });

  it('takes the most generous limits when the default queue is not known', () => {
    const queues = siteQueues(titled);
    expect(queueLimits(queues, '')).toEqual({
      queue: '',
      timeLimit: null,
      cpus: 16,
      memory: 15.6 * 2 ** 30
    });
    expect(queueLimits([], '')).toBeNull();
    expect(siteQueues({ properties: {} })).toEqual([]);
  });
});

describe('resourceSummary', () => {
  const batch = {
    cores: 4,
    processes: 2,
    memory: '2 GB',
    walltime: '00:30:00'
  };

  it('counts jobs, cores, memory and core-hours of a fixed batch launch', () => {
    expect(resourceSummary('slurm', batch, { workers: 4 })).toEqual({
      adaptive: false,
      workers: 4,
      minimum: null,
      jobs: 2,
      cores: 8,
      coresAreThreads: false,
      memory: 4e9,
      binaryMemory: false,
      coreHours: 4
    });
  });

  it('counts an adaptive launch at its maximum', () => {
    const summary = resourceSummary('sge', batch, {
      adapt: { minimum: 1, maximum: 9 }
    });
    expect(summary.minimum).toBe(1);
    expect(summary.jobs).toBe(5);
    expect(summary.cores).toBe(20);
    expect(summary.coreHours).toBe(10);
  });

  it('knows what it cannot count', () => {
    const summary = resourceSummary(
      'slurm',
      { ...batch, memory: 'lots', walltime: '' },
      { workers: 1 }
    );
    expect(summary.memory).toBeNull();
    expect(summary.coreHours).toBeNull();
  });

  it('counts threads and memory of a local launch', () => {
    expect(
      resourceSummary(
        'local',
        { threads_per_worker: 2, memory_limit: '2 GiB' },
        { workers: 3 }
      )
    ).toMatchObject({
      jobs: null,
      cores: 6,
      coresAreThreads: true,
      memory: 6 * 2 ** 30,
      binaryMemory: true,
      coreHours: null
    });
    expect(
      resourceSummary(
        'local',
        { threads_per_worker: 1, memory_limit: 'auto' },
        { workers: 2 }
      ).memory
    ).toBeNull();
  });

  it("counts Saturn's worker processes per machine", () => {
    expect(
      resourceSummary('saturn', { nprocs: 2, nthreads: 3 }, { workers: 2 })
    ).toMatchObject({ workers: 4, cores: 12 });
  });

  it('says what one worker gets', () => {
    expect(perWorker(batch, trans)).toBe('2 cores, 1 GB per worker');
    expect(
      perWorker({ threads_per_worker: 1, memory_limit: 'auto' }, trans)
    ).toBe('1 thread per worker');
    expect(perWorker({ worker_size: 'medium' }, trans)).toBe('medium workers');
  });
});

describe('limits of the chosen queue', () => {
  const limits = { queue: 'short', timeLimit: 1800, cpus: 16, memory: 2 ** 34 };
  const options = {
    cores: 4,
    processes: 2,
    memory: '2 GB',
    walltime: '00:30:00'
  };

  it('finds nothing wrong within the limits', () => {
    expect(limitProblems(options, limits, 'partition', trans)).toEqual({});
  });

  it('names each field over a limit, as the server would', () => {
    expect(
      limitProblems(
        { cores: 32, processes: 3, memory: '20 GiB', walltime: '01:00:00' },
        limits,
        'partition',
        trans
      )
    ).toEqual({
      processes:
        'must divide the cores per job (32) so each worker gets whole cores',
      walltime: "is longer than the short partition's limit (00:30:00)",
      cores: 'is more than a node of the short partition has (16)',
      memory: 'is more than a node of the short partition has (16 GiB)'
    });
    expect(
      limitProblems(
        { ...options, walltime: '02:00:00' },
        { ...limits, queue: '' },
        'queue',
        trans
      ).walltime
    ).toBe("is longer than any queue's limit (00:30:00)");
  });

  it('has nothing to say about other backends', () => {
    expect(
      limitProblems({ threads_per_worker: 0 }, limits, 'queue', trans)
    ).toEqual({});
  });

  it('shows the limits beside the fields and as the form maximum', () => {
    expect(limitHints(limits, trans)).toEqual({
      queue: 'max 00:30:00, 16 CPUs, 16 GiB',
      walltime: 'max 00:30:00',
      cores: 'max 16',
      memory: 'max 16 GiB'
    });
    expect(limitHints(null, trans)).toEqual({});
    const schema = {
      properties: { cores: { type: 'integer', maximum: 1024 } }
    };
    expect(schemaWithLimits(schema, limits).properties.cores.maximum).toBe(16);
    expect(schema.properties.cores.maximum).toBe(1024);
    expect(schemaWithLimits(schema, null)).toBe(schema);
  });

  it('names the queue choices by the queue alone, so they fit a narrow select', () => {
    const schema = {
      properties: {
        queue: {
          oneOf: [
            { const: '', title: '(site default)' },
            { const: 'short', title: 'short (up, max 00:30:00, 16 CPUs)' },
            { const: 'old', title: 'old (drain, no time limit)' }
          ]
        }
      }
    };
    const titles = schemaWithQueueNames(schema).properties.queue.oneOf.map(
      (o: any) => o.title
    );
    expect(titles).toEqual(['(site default)', 'short', 'old (drain)']);
  });
});
