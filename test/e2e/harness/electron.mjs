#!/usr/bin/env node
// Runs the same mocha suite (test/e2e/harness/suite) under @vscode/test-electron, for contributors whose machine can
// download VS Code (it cannot run on the CI image: no download host; there, use harness/run.sh with code-server).
//
//   node test/e2e/harness/electron.mjs            (on a Linux box without a display: xvfb-run -a node …)
//
// env: SIMSD_EXT                 extension checkout (default: this repository); build it first (npm run build)
//      SIMSD_VSCODE_VERSION      VS Code version to download ('stable' by default, e.g. 1.139.1)
//      SIMSD_VSCODE_EXECUTABLE   use this VS Code binary instead of downloading one
//      E2E_FORCE_FAIL=1, SIMSD_E2E_READY_TIMEOUT_S, SIMSD_E2E_GHOST_TIMEOUT_S: passed to the tests as in run.sh
// Exit code: 0 if every test passed. Last line: `harness: N passed, N failed`.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { runTests } = require('@vscode/test-electron');
const { build } = require('esbuild');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../../..');
const EXT = path.resolve(process.env.SIMSD_EXT || REPO);
const SUITE_DIR = path.join(REPO, 'out-test', 'suite');

// The same compile as run.sh: no bundling, so mocha resolves from the repository's node_modules.
fs.rmSync(SUITE_DIR, { recursive: true, force: true });
const entries = fs.readdirSync(path.join(HERE, 'suite')).filter((f) => f.endsWith('.ts')).map((f) => path.join(HERE, 'suite', f));
await build({ entryPoints: entries, outdir: SUITE_DIR, platform: 'node', format: 'cjs', target: 'node20', sourcemap: true, logLevel: 'warning' });

// A fresh profile (our settings.json + keybindings.json), extensions folder and workspace, as in run.sh.
const W = fs.mkdtempSync(path.join(os.tmpdir(), 'simsd-electron-'));
for (const d of ['user/User', 'exts', 'ws', 'out']) fs.mkdirSync(path.join(W, d), { recursive: true });
for (const f of ['settings.json', 'keybindings.json']) fs.copyFileSync(path.join(HERE, '..', 'profile', f), path.join(W, 'user/User', f));
fs.writeFileSync(path.join(W, 'ws/sample.py'), 'def add(a, b):\n    """Return the sum of a and b."""\n    return \n\n\nprint(add(1, 2))\n');
fs.writeFileSync(path.join(W, 'ws/sample.ts'), 'export function add(a: number, b: number): number {\n  return \n}\n\nconsole.log(add(1, 2));\n');
const summary = path.join(W, 'out', 'summary.json');

const pass = (k) => (process.env[k] === undefined ? {} : { [k]: process.env[k] });
let code = 1;
try {
  code = await runTests({
    version: process.env.SIMSD_VSCODE_VERSION || undefined,
    vscodeExecutablePath: process.env.SIMSD_VSCODE_EXECUTABLE || undefined,
    extensionDevelopmentPath: EXT,
    extensionTestsPath: path.join(SUITE_DIR, 'index.js'),
    launchArgs: [
      path.join(W, 'ws'),
      '--disable-extensions', // every extension but the one under development
      `--user-data-dir=${path.join(W, 'user')}`,
      `--extensions-dir=${path.join(W, 'exts')}`,
    ],
    extensionTestsEnv: {
      E2E_TEST_SUMMARY: summary,
      ...pass('E2E_FORCE_FAIL'),
      ...pass('SIMSD_E2E_READY_TIMEOUT_S'),
      ...pass('SIMSD_E2E_GHOST_TIMEOUT_S'),
    },
  });
} catch (e) {
  console.error(`test run failed: ${e?.message ?? e}`);
  code = typeof e?.code === 'number' && e.code !== 0 ? e.code : 1;
}
let line = 'harness: 0 passed, 1 failed';
try {
  const s = JSON.parse(fs.readFileSync(summary, 'utf8'));
  line = `harness: ${s.passes} passed, ${s.failures} failed`;
  if (s.failures > 0 && code === 0) code = 1;
} catch { /* no summary: the host never ran the suite */ }
if (code === 0) fs.rmSync(W, { recursive: true, force: true });
else console.error(`kept ${W}`);
console.log(line);
process.exit(code);
