import { Notification } from '@jupyterlab/apputils';
import { Signal } from '@lumino/signaling';
import type { IUsage } from '../clusterModel';
import { ClusterModel } from '../model';
import { addRunningClusters } from '../running';
import { translationBundle } from '../translation';
import { ICluster } from '../types';
import {
  UsageNotices,
  formatUsageHours,
  stoppedMessage,
  usageText
} from '../usage';
import * as fixtures from './fixtures';

const trans = translationBundle();

function usage(overrides: Partial<IUsage> = {}): IUsage {
  return {
    core_hours: 0.0333,
    gpu_hours: 0,
    final: false,
    most_core_hours: 0.6667,
    warning_core_hours: null,
    ...overrides
  };
}

function cluster(overrides: Partial<ICluster> = {}): ICluster {
  return fixtures.cluster({ backend: 'slurm', state: 'running', ...overrides });
}

/** A model whose clusters the test sets. */
function fakeModel() {
  const changed = new Signal<any, void>({});
  let clusters = new Map<string, ICluster>();
  return {
    model: {
      clustersChanged: changed,
      get clusters() {
        return clusters;
      }
    } as unknown as ClusterModel,
    set(...list: ICluster[]) {
      clusters = new Map(list.map(c => [c.id, c]));
      changed.emit();
    }
  };
}

const messages = () => Notification.manager.notifications.map(n => n.message);

afterEach(() => Notification.dismiss());

describe('usage in words', () => {
  it('writes hours as the server does, with GPU-hours where GPUs ran', () => {
    expect(formatUsageHours(0.0333)).toBe('0.03');
    expect(formatUsageHours(12.345)).toBe('12.3');
    expect(formatUsageHours(12345.6)).toBe('12,346');
    expect(usageText(usage(), trans)).toBe('0.03 core-hours');
    expect(usageText(usage({ core_hours: 3.2, gpu_hours: 1 }), trans)).toBe(
      '3.20 core-hours, 1.00 GPU-hours'
    );
  });

  it('says what a stopped cluster used, and when it is an estimate', () => {
    expect(stoppedMessage(cluster(), usage({ final: true }), trans)).toBe(
      'Dask cluster one stopped: used 0.03 of at most 0.67 core-hours'
    );
    expect(
      stoppedMessage(cluster(), usage({ most_core_hours: null }), trans)
    ).toBe('Dask cluster one stopped: used about 0.03 core-hours');
    // replacement jobs used more than one walltime of the cluster's jobs
    expect(
      stoppedMessage(cluster(), usage({ core_hours: 2, final: true }), trans)
    ).toBe('Dask cluster one stopped: used 2.00 core-hours');
  });
});

describe('UsageNotices', () => {
  it('notifies what a cluster used once it stopped', () => {
    const { model, set } = fakeModel();
    const notices = new UsageNotices(model, trans);
    const local = cluster({ id: 'l1', name: 'local', backend: 'local' });
    set(cluster({ usage: usage() }), local);
    expect(messages()).toEqual([]);
    // the stop's last change: the accounting's numbers, then the cluster leaves
    set(cluster({ state: 'stopping', usage: usage({ final: true }) }), local);
    set();
    expect(messages()).toEqual([
      'Dask cluster one stopped: used 0.03 of at most 0.67 core-hours'
    ]);
    notices.dispose();
  });

  it("warns once when a cluster passes the site's threshold", () => {
    const { model, set } = fakeModel();
    const notices = new UsageNotices(model, trans);
    const limit = { warning_core_hours: 1 };
    set(cluster({ usage: usage({ core_hours: 0.5, ...limit }) }));
    set(cluster({ usage: usage({ core_hours: 1.01, ...limit }) }));
    set(cluster({ usage: usage({ core_hours: 1.5, ...limit }) }));
    expect(messages()).toEqual([
      "Dask cluster one has used 1.01 core-hours, past the site's warning threshold of 1.00"
    ]);
    notices.dispose();
  });
});

describe('the Running panel', () => {
  it('says what each batch cluster used so far', () => {
    const managers: any[] = [];
    const model = {
      sortedClusters: [
        cluster({ usage: usage({ core_hours: 3.2 }) }),
        cluster({ id: 'l1', backend: 'local' })
      ],
      clustersChanged: new Signal<any, void>({})
    } as unknown as ClusterModel;
    const noop = async () => undefined;
    addRunningClusters(
      {
        add: (m: any) => (managers.push(m), { dispose: () => undefined })
      } as any,
      { model, trans, show: () => undefined, stop: noop, stopConfirmed: noop }
    );
    const items = managers[0].running({ mode: 'list' });
    expect(items.map((i: any) => i.detail())).toEqual([
      '0 workers · 3.20 core-hours',
      '0 workers'
    ]);
  });
});
