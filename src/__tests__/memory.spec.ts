import { IRemembered, LaunchMemory, STATE_KEY } from '../memory';

function fakeState(initial: unknown) {
  const data = new Map<string, unknown>([[STATE_KEY, initial]]);
  return {
    data,
    fetch: jest.fn(async (key: string) => data.get(key)),
    save: jest.fn(async (key: string, value: unknown) => {
      data.set(key, value);
    })
  };
}

const remembered: IRemembered = {
  selection: 'backend:slurm',
  editing: true,
  forms: { 'backend:slurm': { options: { cores: 2 }, scaling: { workers: 3 } } }
};

describe('LaunchMemory', () => {
  it('reads what was saved, and nothing malformed', async () => {
    expect(await new LaunchMemory(fakeState(remembered) as any).load()).toEqual(
      remembered
    );
    expect(
      await new LaunchMemory(fakeState({ selection: 3 }) as any).load()
    ).toBeNull();
    expect(await new LaunchMemory(null).load()).toBeNull();
  });

  it('saves the latest value once per burst of changes', async () => {
    jest.useFakeTimers();
    try {
      const state = fakeState(undefined);
      const memory = new LaunchMemory(state as any, 300);
      memory.save({ ...remembered, selection: 'backend:local' });
      memory.save(remembered);
      expect(state.save).not.toHaveBeenCalled();
      jest.advanceTimersByTime(300);
      await Promise.resolve();
      expect(state.save).toHaveBeenCalledTimes(1);
      expect(state.data.get(STATE_KEY)).toEqual(remembered);
    } finally {
      jest.useRealTimers();
    }
  });
});
