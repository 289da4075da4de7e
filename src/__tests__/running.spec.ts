import { Signal } from '@lumino/signaling';
import { ClusterModel } from '../model';
import { addRunningClusters } from '../running';
import { translationBundle } from '../translation';
import { ICluster } from '../types';

function cluster(id: string, state: ICluster['state']): ICluster {
  return {
    id,
    name: `cluster ${id}`,
    backend: 'local',
    profile: null,
    state,
    error: null,
    scheduler_address: null,
    dashboard_link: null,
    dashboard_url: null,
    scaling: { workers: 1 },
    workers:
      state === 'running' ? [{ nthreads: 2, memory_limit: 0 } as any] : [],
    jobs: [],
    created: '2026-01-01T00:00:00Z'
  };
}

describe('addRunningClusters', () => {
  it('lists the active clusters in the Running panel, each with Stop', () => {
    const managers: any[] = [];
    const model = {
      sortedClusters: [
        cluster('a', 'running'),
        cluster('b', 'starting'),
        cluster('c', 'stopping')
      ],
      clustersChanged: new Signal<any, void>({}),
      refreshClusters: jest.fn(async () => undefined)
    } as unknown as ClusterModel;
    const stop = jest.fn(async () => undefined);
    const stopConfirmed = jest.fn(async () => undefined);
    const show = jest.fn();
    addRunningClusters(
      {
        add: (m: any) => (managers.push(m), { dispose: () => undefined })
      } as any,
      { model, trans: translationBundle(), show, stop, stopConfirmed }
    );
    const [manager] = managers;
    expect(manager.name).toBe('Dask Clusters');
    expect(manager.runningChanged).toBe(model.clustersChanged);
    const items = manager.running({ mode: 'list' });
    expect(items.map((i: any) => i.label())).toEqual([
      'cluster a',
      'cluster b'
    ]);
    expect(items.map((i: any) => i.detail())).toEqual(['1 worker', 'starting']);
    items[0].open();
    expect(show).toHaveBeenCalledWith('a');
    // one cluster's Stop asks as the card's does; Stop All was confirmed by the panel once
    items[1].shutdown();
    expect(stop).toHaveBeenCalledWith('b');
    expect(stopConfirmed).not.toHaveBeenCalled();
    manager.shutdownAll();
    expect(stop).toHaveBeenCalledTimes(1);
    expect(stopConfirmed.mock.calls).toEqual([['a'], ['b']]);
    manager.refreshRunning();
    expect(model.refreshClusters).toHaveBeenCalled();
  });
});
