import React, { act } from 'react';
import { Signal } from '@lumino/signaling';
import {
  IKernelChoice,
  IKernelSource,
  KernelChoices
} from '../components/KernelPicker';
import { LaunchPanel } from '../components/LaunchPanel';
import { IRemembered, LaunchMemory } from '../memory';
import { ClusterModel } from '../model';
import { IBackend, IProfile } from '../types';
import { backend, profile } from './fixtures';
import { freshReactRoot } from './reactHarness';

/** A small batch form: enough for the summary and the limits. */
function slurm(): IBackend {
  return {
    ...backend('slurm'),
    title: 'SLURM',
    schema: {
      type: 'object',
      properties: {
        queue: {
          title: 'Partition',
          type: 'string',
          default: '',
          'x-queues': [
            { name: 'short', time_limit: 1800, cpus: 16, memory: null }
          ]
        },
        cores: { title: 'Cores per job', type: 'integer', default: 1 },
        processes: { title: 'Worker processes per job', type: 'integer' },
        memory: { title: 'Memory per job', type: 'string', default: '2 GB' },
        walltime: { title: 'Walltime per job', type: 'string' },
        account: { title: 'Account', type: 'string', default: '' }
      }
    },
    ui_schema: {
      'ui:order': ['queue', 'cores', 'memory', 'walltime', 'account', '*'],
      'ui:groups': [
        { title: 'Scheduling', fields: ['account', 'processes'] },
        { title: 'Advanced', fields: ['*'] }
      ]
    },
    defaults: {
      queue: '',
      cores: 4,
      processes: 2,
      memory: '2 GB',
      walltime: '00:30:00',
      account: ''
    }
  };
}

/** Just the catalog LaunchPanel reads, and a launch that answers at once. */
function fakeModel(
  profiles: IProfile[],
  backends = [backend('local'), backend('slurm', false)]
): ClusterModel {
  return {
    backends,
    profiles,
    launch: jest.fn(async (request: any) => ({
      id: 'c1',
      name: 'one',
      ...request
    }))
  } as any;
}

/** A state database in memory. */
function fakeMemory(remembered: IRemembered | null): LaunchMemory & {
  saved: IRemembered[];
} {
  const saved: IRemembered[] = [];
  return {
    saved,
    load: async () => remembered,
    save: (value: IRemembered) => saved.push(JSON.parse(JSON.stringify(value))),
    flush: async () => undefined
  } as any;
}

const dom = freshReactRoot();

const byTestId = (id: string) =>
  dom.container.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;

function selection(): string | null {
  return byTestId('dcl-picker')!.getAttribute('data-selection');
}

function preselected(profiles: IProfile[], defaultProfile: string): string {
  act(() =>
    dom.root.render(
      <LaunchPanel
        model={fakeModel(profiles)}
        defaultProfile={defaultProfile}
      />
    )
  );
  return selection()!;
}

describe('LaunchPanel preselection', () => {
  const profiles = [
    profile('local'),
    profile('big', { source: 'site', default: true }),
    profile('mine', { source: 'user' }),
    profile('eddie', { source: 'site', backend: 'slurm' })
  ];

  it("preselects the server's default profile when the setting is empty", () => {
    expect(preselected(profiles, '')).toBe('profile:big');
  });

  it("lets a non-empty setting win over the server's default", () => {
    expect(preselected(profiles, 'mine')).toBe('profile:mine');
  });

  it('ignores a setting naming an unusable profile', () => {
    expect(preselected(profiles, 'eddie')).toBe('profile:big');
  });

  it('falls back to the first available backend without any default', () => {
    expect(preselected([profile('local')], '')).toBe('backend:local');
  });

  it('selects the new default profile when the setting changes', () => {
    const model = fakeModel(profiles);
    act(() => dom.root.render(<LaunchPanel model={model} defaultProfile="" />));
    expect(selection()).toBe('profile:big');
    act(() =>
      dom.root.render(<LaunchPanel model={model} defaultProfile="mine" />)
    );
    expect(selection()).toBe('profile:mine');
  });

  it('restores the last choice and its form values after a reload', async () => {
    const memory = fakeMemory({
      selection: 'backend:slurm',
      editing: true,
      forms: {
        'backend:slurm': {
          options: { walltime: '00:12:00', gone: 1 },
          scaling: { adapt: { minimum: 0, maximum: 7 } }
        }
      }
    });
    const model = fakeModel(profiles, [backend('local'), slurm()]);
    await act(async () =>
      dom.root.render(
        <LaunchPanel model={model} defaultProfile="" memory={memory} />
      )
    );
    expect(selection()).toBe('backend:slurm');
    const walltime = dom.container.querySelector(
      '#root_walltime'
    ) as HTMLInputElement;
    expect(walltime.value).toBe('00:12:00');
    expect((byTestId('dcl-adapt-max') as HTMLInputElement).value).toBe('7');
    // What is saved back: the choice and its values (a field the schema lost is dropped).
    const last = memory.saved[memory.saved.length - 1];
    expect(last.selection).toBe('backend:slurm');
    // Only what differs from the server's defaults is kept.
    expect(last.forms['backend:slurm'].options).toEqual({
      walltime: '00:12:00'
    });
  });

  it('ignores a remembered choice that is no longer usable', async () => {
    const memory = fakeMemory({
      selection: 'profile:eddie',
      editing: false,
      forms: {}
    });
    await act(async () =>
      dom.root.render(
        <LaunchPanel
          model={fakeModel(profiles)}
          defaultProfile=""
          memory={memory}
        />
      )
    );
    expect(selection()).toBe('profile:big');
  });
});

describe('LaunchPanel launching', () => {
  it('launches the selected profile in one click, with its summary above', async () => {
    const model = fakeModel([
      profile('local', {
        default: true,
        options: { threads_per_worker: 2 },
        scaling: { workers: 3 }
      })
    ]);
    const onLaunched = jest.fn();
    act(() =>
      dom.root.render(
        <LaunchPanel model={model} defaultProfile="" onLaunched={onLaunched} />
      )
    );
    expect(byTestId('dcl-quick-launch')!.textContent).toContain('3 workers');
    expect(byTestId('dcl-summary-cores')!.textContent).toBe('6 threads');
    // No form until "Edit options".
    expect(byTestId('dcl-options-form')).toBeNull();
    await act(async () => byTestId('dcl-launch')!.click());
    expect(model.launch).toHaveBeenCalledWith({
      profile: 'local',
      options: { threads_per_worker: 2 },
      scaling: { workers: 3 }
    });
    expect(onLaunched).toHaveBeenCalledWith(
      expect.objectContaining({ id: 'c1' })
    );
    act(() => byTestId('dcl-edit-options')!.click());
    expect(byTestId('dcl-options-form')).not.toBeNull();
    expect(byTestId('dcl-quick-launch')).toBeNull();
    // One Launch button at a time.
    expect(
      dom.container.querySelectorAll('[data-testid="dcl-launch"]')
    ).toHaveLength(1);
  });

  it("groups a backend's fields and checks the partition's limits as you type", async () => {
    const model = fakeModel([], [slurm()]);
    act(() => dom.root.render(<LaunchPanel model={model} defaultProfile="" />));
    expect(selection()).toBe('backend:slurm');
    const form = byTestId('dcl-options-form')!;
    // The fields people change first; the others in collapsed groups.
    const main = Array.from(
      form.querySelectorAll(':scope .dcl-Form-fields > .dcl-Field')
    ).map(f => f.getAttribute('data-field'));
    expect(main).toEqual(['queue', 'cores', 'memory', 'walltime']);
    const scheduling = byTestId('dcl-group-scheduling') as HTMLDetailsElement;
    expect(scheduling.open).toBe(false);
    expect(scheduling.textContent).toContain('Scheduling');
    expect(byTestId('dcl-group-advanced')).toBeNull(); // nothing left for "*"
    // 4 cores, 2 workers per job, 2 GB, 30 min; 1 worker -> 1 job.
    expect(byTestId('dcl-summary-core-hours')!.textContent).toBe(
      'up to 2.0 core-hours'
    );
    // The short partition (a text field here): its limits beside the fields.
    const input = dom.container.querySelector(
      '#root_queue'
    ) as HTMLInputElement;
    const setter = Object.getOwnPropertyDescriptor(
      HTMLInputElement.prototype,
      'value'
    )!.set!;
    await act(async () => {
      setter.call(input, 'short');
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    expect(byTestId('dcl-limit-walltime')!.textContent).toBe('max 00:30:00');
    const walltime = dom.container.querySelector(
      '#root_walltime'
    ) as HTMLInputElement;
    await act(async () => {
      setter.call(walltime, '01:00:00');
      walltime.dispatchEvent(new Event('input', { bubbles: true }));
    });
    expect(
      dom.container.querySelector('[data-field="walltime"] .error-detail')!
        .textContent
    ).toContain("the short partition's limit (00:30:00)");
    expect(byTestId('dcl-summary-core-hours')!.textContent).toBe(
      'up to 4.0 core-hours'
    );
  });
});

/** Kernelspecs and an active notebook that a test changes. */
class FakeKernels implements IKernelSource {
  constructor(
    public choices: IKernelChoice[],
    public active: string | null
  ) {}
  readonly changed: Signal<IKernelSource, void> = new Signal(this);
  activate(name: string | null): void {
    this.active = name;
    this.changed.emit();
  }
}

describe('LaunchPanel kernel choice', () => {
  const choices = [
    { name: 'other-env', displayName: 'Other env' },
    { name: 'python3', displayName: 'Python 3 (ipykernel)' }
  ];
  const hostedLocal = () => ({ ...backend('local'), hosted: true });
  const kernelSelect = () => byTestId('dcl-kernel') as HTMLSelectElement;
  const render = (model: ClusterModel, kernels: IKernelSource) =>
    act(() =>
      dom.root.render(
        <LaunchPanel model={model} defaultProfile="" kernels={kernels} />
      )
    );

  it("preselects the active notebook's kernel and launches with it", async () => {
    const model = fakeModel(
      [profile('local', { default: true })],
      [hostedLocal()]
    );
    render(model, new FakeKernels(choices, 'other-env'));
    // Beside Launch in the one-click view, with the display names.
    expect(byTestId('dcl-quick-launch')!.contains(kernelSelect())).toBe(true);
    expect(kernelSelect().value).toBe('other-env');
    expect(kernelSelect().selectedOptions[0].textContent).toBe('Other env');
    expect(byTestId('dcl-kernel-note')!.textContent).toBe(" — this notebook's");
    expect(Array.from(kernelSelect().options).map(o => o.textContent)).toEqual([
      "The server's Python",
      'Other env',
      'Python 3 (ipykernel)'
    ]);
    await act(async () => byTestId('dcl-launch')!.click());
    expect(model.launch).toHaveBeenCalledWith(
      expect.objectContaining({ profile: 'local', kernel: 'other-env' })
    );
  });

  it("runs the server's Python when no notebook is active", async () => {
    const model = fakeModel([], [hostedLocal()]);
    render(model, new FakeKernels(choices, null));
    expect(byTestId('dcl-launch-form')!.contains(kernelSelect())).toBe(true);
    expect(kernelSelect().value).toBe('');
    await act(async () => byTestId('dcl-launch')!.click());
    expect((model.launch as jest.Mock).mock.calls[0][0]).not.toHaveProperty(
      'kernel'
    );
  });

  it('keeps a choice until another notebook kernel is active', async () => {
    const model = fakeModel([], [hostedLocal()]);
    const kernels = new FakeKernels(choices, 'other-env');
    render(model, kernels);
    await act(async () => {
      kernelSelect().value = '';
      kernelSelect().dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(kernelSelect().value).toBe('');
    expect(byTestId('dcl-kernel-note')).toBeNull();
    act(() => kernels.changed.emit()); // the same notebook, specs reloaded
    expect(kernelSelect().value).toBe('');
    act(() => kernels.activate('python3'));
    expect(kernelSelect().value).toBe('python3');
    act(() => kernels.activate('ir')); // not a Python kernel
    expect(kernelSelect().value).toBe('');
  });

  it('offers no kernel for clusters the launcher does not host', async () => {
    const model = fakeModel([], [backend('saturn')]);
    render(model, new FakeKernels(choices, 'other-env'));
    expect(byTestId('dcl-launch-form')).not.toBeNull();
    expect(byTestId('dcl-kernel')).toBeNull();
    await act(async () => byTestId('dcl-launch')!.click());
    expect((model.launch as jest.Mock).mock.calls[0][0]).not.toHaveProperty(
      'kernel'
    );
  });
});

describe('KernelChoices', () => {
  /** A notebook panel's session context, as far as KernelChoices reads it. */
  function notebook(kernel: string | null, preference?: string) {
    return {
      sessionContext: {
        isDisposed: false,
        session: kernel ? { kernel: { name: kernel } } : null,
        kernelPreference: { name: preference },
        kernelChanged: new Signal<any, any>({}),
        sessionChanged: new Signal<any, any>({})
      }
    };
  }

  it("lists Python kernelspecs and follows the active notebook's kernel", () => {
    const specs = {
      specs: {
        default: 'python3',
        kernelspecs: {
          python3: {
            name: 'python3',
            display_name: 'Python 3',
            language: 'python'
          },
          ir: { name: 'ir', display_name: 'R', language: 'R' },
          env: { name: 'env', display_name: 'An env', language: 'python' }
        }
      },
      specsChanged: new Signal<any, any>({})
    };
    const tracker = {
      currentWidget: null as any,
      currentChanged: new Signal<any, any>({})
    };
    const source = new KernelChoices({
      specs: specs as any,
      notebooks: tracker as any
    });
    const changes = jest.fn();
    source.changed.connect(changes);
    expect(source.choices).toEqual([
      { name: 'env', displayName: 'An env' },
      { name: 'python3', displayName: 'Python 3' }
    ]);
    expect(source.active).toBeNull();

    const first = notebook(null, 'env'); // its kernel not started yet
    tracker.currentWidget = first;
    tracker.currentChanged.emit(first);
    expect(source.active).toBe('env');
    (first.sessionContext as any).session = { kernel: { name: 'python3' } };
    first.sessionContext.kernelChanged.emit(null);
    expect(source.active).toBe('python3');
    expect(changes).toHaveBeenCalledTimes(2);

    // Another notebook: the first one's kernel changes no longer count.
    const second = notebook('env');
    tracker.currentWidget = second;
    tracker.currentChanged.emit(second);
    first.sessionContext.kernelChanged.emit(null);
    expect(changes).toHaveBeenCalledTimes(3);
    expect(source.active).toBe('env');
  });
});

describe('LaunchPanel where the scheduler runs', () => {
  /** The small SLURM form with the "Scheduler runs" choice and its job's size. */
  function slurmWithPlacement(): IBackend {
    const form = slurm();
    form.schema.properties.scheduler_placement = {
      title: 'Scheduler runs',
      type: 'string',
      oneOf: [
        { const: 'beside_jupyter', title: 'Beside Jupyter' },
        { const: 'own_job', title: 'In its own batch job' },
        {
          const: 'one_allocation',
          title: 'In one allocation with its workers',
          'x-fixed-size': true
        }
      ],
      default: 'beside_jupyter'
    };
    form.schema.properties.scheduler_cores = {
      title: 'Scheduler job cores',
      type: 'integer',
      default: 1,
      'x-shown-when': { scheduler_placement: 'own_job' }
    };
    return form;
  }

  async function render(placement: string): Promise<ClusterModel> {
    const memory = fakeMemory({
      selection: 'backend:slurm',
      editing: true,
      forms: {
        'backend:slurm': {
          options: { scheduler_placement: placement },
          scaling: { adapt: { minimum: 0, maximum: 7 } }
        }
      }
    });
    const model = fakeModel([], [backend('local'), slurmWithPlacement()]);
    await act(async () =>
      dom.root.render(
        <LaunchPanel model={model} defaultProfile="" memory={memory} />
      )
    );
    // the placement's group (here "Advanced") renders its fields once opened
    const group = byTestId('dcl-group-advanced') as HTMLDetailsElement;
    await act(async () => {
      group.open = true;
      group.dispatchEvent(new Event('toggle'));
    });
    expect(dom.container.querySelector('#root_scheduler_placement')).not.toBe(
      null
    );
    return model;
  }

  function hiddenOrAbsent(selector: string): boolean {
    const input = dom.container.querySelector(selector);
    return input === null || input.getAttribute('type') === 'hidden';
  }

  it('offers only a fixed number of workers in one allocation, and launches that', async () => {
    const model = await render('one_allocation');
    expect(byTestId('dcl-scaling-adapt')).toBeNull();
    expect(byTestId('dcl-scaling-fixed-only')!.textContent).toBe('Fixed size');
    // the remembered adaptive maximum became the fixed number
    expect((byTestId('dcl-workers') as HTMLInputElement).value).toBe('7');
    expect(hiddenOrAbsent('#root_scheduler_cores')).toBe(true);
    await act(async () => byTestId('dcl-launch')!.click());
    expect((model.launch as jest.Mock).mock.calls[0][0].scaling).toEqual({
      workers: 7
    });
  });

  it("shows the scheduler job's size only for a job of its own", async () => {
    await render('own_job');
    expect(byTestId('dcl-scaling-adapt')).not.toBeNull();
    expect((byTestId('dcl-adapt-max') as HTMLInputElement).value).toBe('7');
    const cores = dom.container.querySelector('#root_scheduler_cores');
    expect(cores).not.toBeNull();
    expect(cores!.getAttribute('type')).not.toBe('hidden');
  });

  it("hides the scheduler job's size beside Jupyter", async () => {
    await render('beside_jupyter');
    expect(hiddenOrAbsent('#root_scheduler_cores')).toBe(true);
  });
});
