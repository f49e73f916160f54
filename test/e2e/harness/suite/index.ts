// Mocha entry for the extension-host test harness (testing.md §6.4). Runs every *.test.js beside it.
// Works under code-server (test/e2e/harness/run.sh) and under @vscode/test-electron (test/e2e/harness/electron.mjs):
// both call run() in the extension host after loading the development extension.
// If E2E_TEST_SUMMARY is set, writes {passes, failures, pending, tests} there as JSON.
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';

interface TestRecord {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
  error?: string;
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 30000 });
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));

  return new Promise((resolve, reject) => {
    const tests: TestRecord[] = [];
    let runner: Mocha.Runner;
    try {
      runner = mocha.run((failures) => {
        const stats = runner.stats ?? { passes: 0, failures, pending: 0 };
        const summary = { passes: stats.passes, failures: stats.failures, pending: stats.pending, tests };
        const out = process.env.E2E_TEST_SUMMARY;
        if (out) {
          try {
            fs.writeFileSync(out, JSON.stringify(summary, null, 2));
          } catch (e) {
            console.error(`cannot write E2E_TEST_SUMMARY ${out}: ${String(e)}`);
          }
        }
        if (failures > 0) reject(new Error(`${failures} tests failed.`));
        else resolve();
      });
    } catch (e) {
      reject(e);
      return;
    }
    runner.on('pass', (t) => tests.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }));
    runner.on('pending', (t) => tests.push({ title: t.fullTitle(), state: 'pending' }));
    runner.on('fail', (t, err: Error) => tests.push({ title: t.fullTitle(), state: 'failed', error: String(err?.stack ?? err) }));
  });
}
