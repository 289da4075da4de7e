/**
 * Sidebar update time in a real JupyterLab (Debian's Chromium, headless), from the
 * `dcl:sidebar-update` measures the sidebar records itself (src/sidebarTiming.ts: from a
 * cluster event's arrival in the model to React's commit of the sidebar).
 *
 *   node benchmarks/sidebar.mjs --url http://127.0.0.1:PORT/ --token TOKEN --cluster ID \
 *       [--high 128] [--low 120] [--cycles 5] [--screenshot FILE] [--form 1]
 *
 * The server must expose the app in the browser (`LabApp.expose_app_in_browser`), as
 * benchmarks/sidebar.py configures it (it also starts the server and the cluster).
 *
 * 1. Opens the Clusters sidebar with the cluster's card expanded (a page of its workers).
 * 2. Live: scales the cluster high -> low -> high `--cycles` times (REST PATCH, waiting until
 *    the card shows each size); every server event is one measure. The page keeps its own copy
 *    of the cluster, as the model does, and records each event and the cluster after it. These
 *    updates compete for the 2 cores with the server and the cluster that is scaling.
 * 3. Replayed, calm, in the same page: the recorded events again, one render each, from the
 *    cluster as it was before them (emitted by the model's own event source, the launcher's
 *    event socket of src/events.ts, where the model listens).
 * 4. Baseline, calm, same page: the cluster after each recorded event, as many as there were
 *    events, each dispatched as a whole-cluster `updated` event (what every event carried
 *    before the server sent patches: all rows are new objects, so every shown row renders
 *    again). JSON parsing is in none of the figures (the services layer parses before the
 *    model sees an event).
 */
import { createRequire } from 'node:module';

const require = createRequire(
  new URL('../ui-tests/package.json', import.meta.url)
);
const { chromium } = require('@playwright/test');

const MEASURE = 'dcl:sidebar-update';
const SCHEMA = 'https://schema.dask-cluster-launcher.org/events/cluster';
const SIDEBAR_ID = 'dask-cluster-launcher-sidebar';
const API = 'dask-cluster-launcher';

function parseArgs(argv) {
  const args = { high: 128, low: 120, cycles: 5, screenshot: '', form: '' };
  for (let i = 0; i < argv.length; i += 2) {
    args[argv[i].replace(/^--/, '')] = argv[i + 1];
  }
  for (const key of ['url', 'token', 'cluster']) {
    if (!args[key]) {
      throw new Error(`--${key} is required`);
    }
  }
  args.url = args.url.endsWith('/') ? args.url : `${args.url}/`;
  args.high = Number(args.high);
  args.low = Number(args.low);
  args.cycles = Number(args.cycles);
  return args;
}

function percentile(sorted, p) {
  if (sorted.length === 0) {
    return NaN;
  }
  const index = Math.min(
    sorted.length - 1,
    Math.ceil((p / 100) * sorted.length) - 1
  );
  return sorted[Math.max(0, index)];
}

function summary(durations) {
  const sorted = [...durations].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    max: sorted[sorted.length - 1] ?? NaN
  };
}

const ms = v => `${v.toFixed(1)} ms`;
const line = s =>
  `n=${s.n}  p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  max ${ms(s.max)}`;

async function scale(args, workers) {
  const response = await fetch(`${args.url}${API}/clusters/${args.cluster}`, {
    method: 'PATCH',
    headers: { Authorization: `token ${args.token}` },
    body: JSON.stringify({ workers })
  });
  if (!response.ok) {
    throw new Error(
      `PATCH ${workers} workers: ${response.status} ${await response.text()}`
    );
  }
}

/** Wait until the card's totals start with "<n> workers". */
async function cardShows(page, args, n) {
  await page.waitForFunction(
    ({ id, n }) => {
      const totals = document.querySelector(
        `[data-cluster-id="${id}"] [data-testid="dcl-totals"]`
      );
      return totals?.textContent?.startsWith(`${n.toLocaleString()} workers`);
    },
    { id: args.cluster, n },
    { timeout: 120000 }
  );
}

/** Measures whose start lies in [from, to) (performance.now() of the page). */
async function measuresBetween(page, from, to) {
  return page.evaluate(
    ({ from, to }) =>
      window.__dclBench.entries
        .filter(e => e.start >= from && e.start < to)
        .map(e => e.duration),
    { from, to }
  );
}

const now = page => page.evaluate(() => performance.now());

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    // As ui-tests/playwright.config.js.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run'
    ]
  });
  try {
    const page = await browser.newPage({
      viewport: { width: 1400, height: 900 }
    });
    await page.goto(`${args.url}lab?token=${args.token}`);
    await page.waitForFunction(() => window.jupyterapp?.shell, null, {
      timeout: 120000
    });
    // After the layout is restored (it could fold the sidebar again) and the splash is gone.
    await page.evaluate(() => window.jupyterapp.restored);
    await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
    // The plugin adds its tab once its settings are loaded.
    await page.waitForFunction(
      id => document.querySelector(`[data-id="${id}"]`),
      SIDEBAR_ID,
      { timeout: 60000 }
    );
    await page.evaluate(
      id => window.jupyterapp.shell.activateById(id),
      SIDEBAR_ID
    );
    const card = page.locator(
      `.dcl-ClusterCard[data-cluster-id="${args.cluster}"]`
    );
    await card.waitFor({ timeout: 60000 });
    await card.getByTestId('dcl-expand').click();
    await cardShows(page, args, args.high);
    await card.locator('.dcl-WorkerRow').first().waitFor();
    const rows = await card.locator('.dcl-WorkerRow').count();
    if (args.form) {
      // The launch form open below the cards (rjsf), as while preparing the next cluster.
      await page.getByTestId('dcl-edit-options').click();
      await page.getByTestId('dcl-options-form').waitFor();
    }

    // Every measure, kept by the page (an observer also survives the sidebar's clearing), and
    // the page's own copy of the cluster after each server event (as src/model.ts applies them).
    await page.evaluate(
      async ({ id, api, token, measure, sidebarId }) => {
        // The model's own event source (a ClusterEventSocket, src/events.ts: the launcher's
        // WebSocket, not Jupyter's event bus), reached through the sidebar widget's options.
        const sidebar = Array.from(
          window.jupyterapp.shell.widgets('left')
        ).find(w => w.id === sidebarId);
        const stream = sidebar?._options?.model?._events?.stream;
        if (!stream) {
          throw new Error('the sidebar model has no cluster event source');
        }
        const bench = {
          stream,
          entries: [],
          states: [],
          emissions: [],
          events: { updated: 0, changed: 0 }
        };
        window.__dclBench = bench;
        new PerformanceObserver(list => {
          for (const e of list.getEntriesByName(measure)) {
            bench.entries.push({ start: e.startTime, duration: e.duration });
          }
        }).observe({ type: 'measure' });
        const response = await fetch(`${api}/clusters/${id}`, {
          headers: { Authorization: `token ${token}` }
        });
        let model = await response.json();
        bench.initial = JSON.stringify(model);
        const rows = (list, patch, key) => {
          const upserts = new Map((patch.upsert ?? []).map(r => [key(r), r]));
          const removed = new Set(patch.remove ?? []);
          const result = [];
          for (const row of list) {
            if (removed.has(key(row))) {
              continue;
            }
            result.push(upserts.get(key(row)) ?? row);
            upserts.delete(key(row));
          }
          return result.concat([...upserts.values()]);
        };
        stream.connect((_, e) => {
          if (e.cluster_id !== id || bench.replaying) {
            return;
          }
          if (e.action === 'updated' && e.cluster) {
            model = e.cluster;
          } else if (e.action === 'changed' && e.changes) {
            const c = e.changes;
            model = { ...model, ...(c.fields ?? {}) };
            if (c.workers) {
              model.workers = rows(model.workers, c.workers, w => w.name);
            }
            if (c.jobs) {
              model.jobs = rows(model.jobs, c.jobs, j => j.job_id);
            }
          } else {
            return;
          }
          bench.events[e.action] += 1;
          bench.emissions.push(JSON.stringify(e));
          bench.states.push(JSON.stringify(model));
        });
      },
      {
        id: args.cluster,
        api: `${args.url}${API}`,
        token: args.token,
        measure: MEASURE,
        sidebarId: SIDEBAR_ID
      }
    );

    // 2. Live updates from the server.
    const liveFrom = await now(page);
    for (let i = 0; i < args.cycles; i++) {
      await scale(args, args.low);
      await cardShows(page, args, args.low);
      await scale(args, args.high);
      await cardShows(page, args, args.high);
    }
    await page.waitForTimeout(1000); // trailing events (worker states settling)
    const liveTo = await now(page);
    const live = await measuresBetween(page, liveFrom, liveTo);
    const events = await page.evaluate(() => window.__dclBench.events);
    if (args.screenshot) {
      await page.screenshot({ path: args.screenshot });
    }

    // 3. Replays in the same page, calm (no cluster scaling meanwhile): each dispatched event's
    // own measure, one render each.
    const replay = (emissions, warmUp) =>
      page.evaluate(
        async ({ emissions, warmUp, measure }) => {
          const bench = window.__dclBench;
          const stream = bench.stream;
          const frame = () =>
            new Promise(r => requestAnimationFrame(() => r()));
          const durations = [];
          bench.replaying = true;
          for (const [i, text] of emissions.entries()) {
            const before = performance.getEntriesByName(measure).length;
            stream.emit(JSON.parse(text));
            for (let f = 0; f < 60; f++) {
              await frame();
              const entries = performance.getEntriesByName(measure);
              if (entries.length > before) {
                if (i >= warmUp) {
                  durations.push(entries[entries.length - 1].duration);
                }
                break;
              }
            }
            await frame();
          }
          bench.replaying = false;
          return durations;
        },
        { emissions, warmUp, measure: MEASURE }
      );
    const recorded = await page.evaluate(() => {
      const { states, emissions, initial } = window.__dclBench;
      return { states, emissions, initial };
    });
    const whole = text =>
      JSON.stringify({
        schema_id: SCHEMA,
        action: 'updated',
        cluster_id: args.cluster,
        cluster: JSON.parse(text)
      });
    // The server's own events again, from the cluster as it was before them.
    const patches = await replay(
      [whole(recorded.initial), ...recorded.emissions],
      1
    );
    // Baseline: the cluster after each of those events, as a whole-cluster event.
    const baseline = await replay(recorded.states.map(whole), 0);

    const ours = summary(live);
    const calm = summary(patches);
    const base = summary(baseline);
    const count = events.changed + events.updated;
    console.log(
      `sidebar update, ${args.high} workers (card expanded, ${rows} worker rows shown` +
        `${args.form ? ', launch form open' : ''}), ` +
        `${args.cycles} x scale ${args.high} -> ${args.low} -> ${args.high}:`
    );
    console.log(
      `  live, from the server while it scales (${events.changed} changed, ` +
        `${events.updated} updated):  ${line(ours)}`
    );
    console.log(`  the same ${count} events replayed, calm:  ${line(calm)}`);
    console.log(
      `  baseline: the same ${count} clusters as whole-cluster 'updated' events, calm:  ` +
        line(base)
    );
    console.log(
      `  ratio replayed / baseline: p50 ${(calm.p50 / base.p50).toFixed(2)}, ` +
        `p95 ${(calm.p95 / base.p95).toFixed(2)} (goal: every update <= 16 ms)`
    );
    console.log(
      `JSON ${JSON.stringify({ rows, events, live: ours, replayed: calm, baseline: base })}`
    );
  } finally {
    await browser.close();
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
