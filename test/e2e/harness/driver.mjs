// Opens the code-server workbench in headless Chromium with the extension-test payload and waits for the extension
// host to finish the mocha run (testing.md §6.4). Run by harness/run.sh from a copy in $W.
// env: PORT, W (workspace is $W/ws), SIMSD_EXT (extensionDevelopmentPath), SUITE (extensionTestsPath, a .js file),
//      SIMSD_HARNESS_TIMEOUT_S (default 600), OUT (screenshots).
// Exit code: the one the workbench reports through codeAutomationExit (0 or 1); 2 on a timeout or driver error.
import { chromium } from 'playwright-core';
import util from 'node:util';

const { PORT, W, SIMSD_EXT, SUITE, OUT } = process.env;
const TIMEOUT_MS = Number(process.env.SIMSD_HARNESS_TIMEOUT_S || 600) * 1000;
const t0 = Date.now();
const log = (msg) => console.error(`[driver +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

const authority = `127.0.0.1:${PORT}`;
const payload = [
  ['extensionDevelopmentPath', `vscode-remote://${authority}${SIMSD_EXT}`],
  ['extensionTestsPath', `vscode-remote://${authority}${SUITE}`],
];
const url = `http://${authority}/?folder=${encodeURIComponent(`${W}/ws`)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;

let code = 2;
let browser;
let timer;
try {
  browser = await chromium.launch({
    executablePath: process.env.SIMSD_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  let resolveExit;
  const exited = new Promise((resolve) => { resolveExit = resolve; });
  await page.exposeFunction('codeAutomationExit', (c) => { log(`codeAutomationExit(${c})`); resolveExit(Number(c)); });
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const line = util.format(...(Array.isArray(args) ? args : [args]));
    (type === 'error' ? console.error : console.log)(line);
  });
  log(`open ${url}`);
  await page.goto(url);
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), TIMEOUT_MS); });
  const result = await Promise.race([exited, timeout]);
  if (result === 'timeout') {
    log(`no result within ${TIMEOUT_MS / 1000} s`);
    if (OUT) await page.screenshot({ path: `${OUT}/harness-timeout.png` }).catch(() => {});
    code = 2;
  } else {
    code = result === 0 ? 0 : 1;
  }
} catch (e) {
  log(`driver error: ${e?.stack ?? e}`);
  code = 2;
} finally {
  clearTimeout(timer);
  await browser?.close().catch(() => {});
}
process.exit(code);
