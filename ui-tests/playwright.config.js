/**
 * Galata in Debian's Chromium (Playwright cannot download browsers here).
 * Run with CI=1 so no HTML report is opened and no stray server is reused.
 *
 * One JupyterLab server (jupyter_server_test_config.py) serves every spec file: local, SLURM and
 * SGE (the test beds must run: testbeds/start-slurm.sh, testbeds/start-sge.sh) and Saturn (an
 * emulator inside the server's process). Tests run one at a time: they share the server, the
 * batch queues and Saturn's one-cluster-per-user.
 */
const os = require('os');
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// Where the test server writes its Saturn emulator's URL and token (see
// jupyter_server_test_config.py). A fresh server (CI) gets a file of its own, so that another
// server started with the same config file elsewhere cannot overwrite it. Set here, in the
// runner, before the web server starts; the test workers inherit it.
if (process.env.CI && !process.env.DCL_UI_SATURN_INFO) {
  process.env.DCL_UI_SATURN_INFO = path.join(
    os.tmpdir(),
    `dcl-ui-tests-saturn-${process.pid}.json`
  );
}

module.exports = {
  ...baseConfig,
  reporter: [['list'], ['html', { open: 'never' }]],
  // Per test; batch workers take 3-8 s to connect, a golden path takes 15-40 s on 2 cores.
  timeout: 120000,
  expect: { timeout: 30000 },
  // The whole suite takes ~3-4 min on 2 cores; stop a hung run well before CI's own limit.
  globalTimeout: 15 * 60 * 1000,
  retries: 0,
  workers: 1,
  fullyParallel: false,
  use: {
    ...baseConfig.use,
    // The size the layout is checked at (issue 13): Launch in view without scrolling.
    viewport: { width: 1400, height: 900 },
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    command: 'jlpm start',
    url: 'http://localhost:8888/lab',
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI,
    // SIGTERM first: the server closes its clusters (batch jobs included) and the Saturn
    // emulator; SIGKILL only if that takes longer.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 20000 }
  }
};
