import { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';
import React, { act } from 'react';
import { ClusterCard } from '../components/ClusterCard';
import { labextensionDashboardUrl } from '../daskDashboard';
import { CLUSTER_EVENTS_PATH, ClusterEventSocket } from '../events';
import { dashboardHref } from '../format';
import { safeLink } from '../links';
import { ClusterModel } from '../model';
import { CLUSTER_EVENT_SCHEMA, ICluster } from '../types';
import { cluster } from './fixtures';
import { freshReactRoot, noClusterActions } from './reactHarness';

// jsdom's page: http://localhost/
const PAGE = window.location.href;

describe('safeLink', () => {
  it.each([
    ['http://10.0.0.1:8787/status', 'http://10.0.0.1:8787/status'],
    ['HTTPS://dash.example.org/status', 'https://dash.example.org/status'],
    ['/user/ann/proxy/1/status', '/user/ann/proxy/1/status'],
    ['proxy/1/status', 'proxy/1/status'],
    ['//localhost/proxy/1/status', '//localhost/proxy/1/status']
  ])('follows %p', (url, expected) => {
    expect(safeLink(url, PAGE)).toBe(expected);
  });

  it.each([
    'javascript:alert(document.cookie)',
    'javascript://10.0.0.1/%0aalert(document.cookie)',
    ' JavaScript:alert(1)',
    'java\tscript:alert(1)',
    '\u0001javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    'blob:http://localhost/0000',
    'file:///etc/passwd',
    '//evil.example.org/status',
    '/\\evil.example.org/status',
    '\\\\evil.example.org/status',
    'http://[not a host',
    '',
    null,
    undefined
  ])('refuses %p', url => {
    expect(safeLink(url, PAGE)).toBeNull();
  });

  it('is what every dashboard link of the sidebar goes through', () => {
    const forged = 'javascript://x/%0aalert(1)';
    expect(dashboardHref(forged, '/')).toBeNull();
    expect(dashboardHref('\\evil.example.org/status', '/')).toBeNull();
    expect(labextensionDashboardUrl(forged, '/')).toBeNull();
    expect(dashboardHref('/proxy/1/status', '/')).toBe('/proxy/1/status');
  });
});

describe('a forged link arriving in a cluster event', () => {
  const dom = freshReactRoot();
  const forgedUrl = 'javascript://10.0.0.1/%0aalert(document.cookie)';
  const forgedLink = 'javascript://10.0.0.1:8787/%0aalert(document.cookie)';

  function cardFromEvent(overrides: Partial<ICluster>): HTMLElement {
    const events = { stream: new Signal<any, Record<string, any>>({}) };
    const model = new ClusterModel({ events });
    const forged = cluster({ state: 'running', ...overrides });
    events.stream.emit({
      schema_id: CLUSTER_EVENT_SCHEMA,
      action: 'updated',
      cluster_id: forged.id,
      cluster: forged
    });
    act(() =>
      dom.root.render(
        <ClusterCard
          cluster={model.cluster(forged.id)!}
          actions={noClusterActions({ openDashboard: jest.fn() })}
          baseUrl="/"
          canOpenDashboard={true}
        />
      )
    );
    act(() =>
      (
        dom.container.querySelector('[data-testid="dcl-expand"]') as HTMLElement
      ).click()
    );
    return dom.container;
  }

  it('is shown as text, never as a link', () => {
    const card = cardFromEvent({
      dashboard_url: forgedUrl,
      dashboard_link: forgedLink
    });
    const hrefs = Array.from(card.querySelectorAll('a')).map(a =>
      a.getAttribute('href')
    );
    expect(hrefs.filter(h => h && /script:/i.test(h))).toEqual([]);
    expect(card.querySelector('[data-testid="dcl-dashboard"]')).toBeNull();
    expect(
      card.querySelector('[data-testid="dcl-dashboard-direct"]')
    ).toBeNull();
    expect(card.querySelector('[data-testid="dcl-open-dashboard"]')).toBeNull();
    expect(
      card.querySelector('[data-testid="dcl-dashboard-text"]')!.textContent
    ).toBe(forgedUrl);
    expect(
      card.querySelector('[data-testid="dcl-dashboard-direct-text"]')!
        .textContent
    ).toBe(forgedLink);
  });

  it('leaves web addresses as links', () => {
    const card = cardFromEvent({
      dashboard_url: '/proxy/8787/status',
      dashboard_link: 'http://10.0.0.1:8787/status'
    });
    expect(
      card.querySelector('[data-testid="dcl-dashboard"]')!.getAttribute('href')
    ).toBe('/proxy/8787/status');
    expect(
      card
        .querySelector('[data-testid="dcl-dashboard-direct"]')!
        .getAttribute('href')
    ).toBe('http://10.0.0.1:8787/status');
    expect(card.querySelector('.dcl-ClusterCard-notALink')).toBeNull();
  });
});

describe('ClusterEventSocket', () => {
  /** Records the sockets opened; a test opens, sends and closes them. */
  class FakeSocket {
    static opened: FakeSocket[] = [];
    onopen: (() => void) | null = null;
    onmessage: ((m: { data: string }) => void) | null = null;
    onclose: (() => void) | null = null;
    closed = false;
    constructor(readonly url: string) {
      FakeSocket.opened.push(this);
    }
    close(): void {
      this.closed = true;
    }
  }

  beforeEach(() => {
    jest.useFakeTimers();
    FakeSocket.opened = [];
  });
  afterEach(() => jest.useRealTimers());

  it("reads the launcher's socket, not Jupyter's event bus, and resyncs after a reconnection", () => {
    const serverSettings = ServerConnection.makeSettings({
      wsUrl: 'ws://h/user/ann/',
      token: 't0k',
      appendToken: true,
      WebSocket: FakeSocket as any
    });
    const events = new ClusterEventSocket({ serverSettings });
    const received: Record<string, any>[] = [];
    let reconnections = 0;
    events.stream.connect((_, m) => received.push(m));
    events.reconnected.connect(() => reconnections++);

    const first = FakeSocket.opened[0];
    expect(first.url).toBe(`ws://h/user/ann/${CLUSTER_EVENTS_PATH}?token=t0k`);
    first.onopen!();
    first.onmessage!({ data: '{"action":"removed","cluster_id":"c1"}' });
    expect(received).toEqual([{ action: 'removed', cluster_id: 'c1' }]);

    first.onclose!();
    jest.advanceTimersByTime(1000);
    expect(FakeSocket.opened).toHaveLength(2);
    expect(reconnections).toBe(0);
    FakeSocket.opened[1].onopen!();
    expect(reconnections).toBe(1);

    events.dispose();
    expect(FakeSocket.opened[1].closed).toBe(true);
    jest.advanceTimersByTime(60000);
    expect(FakeSocket.opened).toHaveLength(2);
  });
});
