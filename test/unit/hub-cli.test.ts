// `node dist/cli.js pull …` against the stand-in Hub on 127.0.0.1, as a user and as the extension run it: a pulled
// pair converts and generates, progress lines, a SIGKILL mid-download followed by a run that resumes, and the
// one-line errors. Needs `node esbuild.mjs` first. Children run asynchronously (the server lives in this process).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SMALL } from '../fixtures/tiny-checkpoint';
import { makeCheckpoint } from '../fixtures/tiny-checkpoint';
import { filesFromFolder, startHubServer, type HubServer, type StandInFile, type StandInRepo } from '../fixtures/hub-server';

const CLI = resolve('dist/cli.js');
const DRAFT = 'JetLM/SDAR-1.7B-Chat';
const TARGET = 'JetLM/SDAR-8B-Chat';
const BIG = 'JetLM/SDAR-Big';
const WEIGHTS = 'model.safetensors';
let work = '';
let env: NodeJS.ProcessEnv = {};
const files: Record<string, StandInFile[]> = {};

before(() => {
  assert.ok(fs.existsSync(CLI), 'dist/cli.js is missing: build with `node esbuild.mjs` first');
  work = fs.mkdtempSync(join(tmpdir(), 'simsd-hub-cli-'));
  makeCheckpoint(join(work, 'draft'), { seed: 2 });
  makeCheckpoint(join(work, 'target'), { ...SMALL, seed: 1 });
  makeCheckpoint(join(work, 'big'), { seed: 5, vocabSize: 16_384 }); // a 4.2 MB model.safetensors
  files[DRAFT] = filesFromFolder(join(work, 'draft'));
  files[TARGET] = filesFromFolder(join(work, 'target'));
  files[BIG] = filesFromFolder(join(work, 'big'));
  // No HF_* from the machine running the tests: no real token, cache or endpoint.
  env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HF_') && !k.startsWith('HUGGING')));
  env.HF_HOME = join(work, 'hf-home');
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs the CLI; `watch` sees the child while it runs (to kill it). Killed after `timeoutMs` in any case. */
function cli(args: readonly string[], watch?: (child: ChildProcess) => void, timeoutMs = 60_000): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    watch?.(child);
    child.on('close', (code, signal) => { clearTimeout(timer); done({ code, signal, stdout, stderr }); });
  });
}

async function withHub(repos: readonly StandInRepo[], body: (hub: HubServer) => Promise<void>): Promise<void> {
  const hub = await startHubServer(repos);
  try { await body(hub); } finally { await hub.close(); }
}

const lastJson = (r: Run) => JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
const lines = (text: string) => text.split('\n').filter((l) => l !== '');

test('pull --pair writes both models with JSON progress lines; the pair converts and generates', { timeout: 90_000 }, async () => {
  await withHub([{ id: DRAFT, files: files[DRAFT] }, { id: TARGET, files: files[TARGET] }], async (hub) => {
    const cacheDir = join(work, 'pair-cache');
    const r = await cli(['pull', '--pair', 'sdar-1.7b+8b', '--endpoint', hub.endpoint, '--cache-dir', cacheDir, '--json', '--progress-json']);
    assert.equal(r.code, 0, r.stderr);
    const result = lastJson(r) as { pair: string; draft: { path: string; repo: string }; target: { path: string; repo: string } };
    assert.deepEqual([result.pair, result.draft.repo, result.target.repo], ['sdar-1.7b+8b', DRAFT, TARGET]);
    assert.equal(result.target.path, join(cacheDir, 'models--JetLM--SDAR-8B-Chat', 'snapshots', hub.commitOf(TARGET)));
    // Every stderr line is one {"progress": …} object, for the draft first, then the target.
    const progress = lines(r.stderr).map((l) => (JSON.parse(l) as { progress: Record<string, unknown> }).progress);
    for (const key of ['repo', 'role', 'file', 'fileBytes', 'fileSize', 'bytes', 'totalBytes', 'resumedBytes', 'bytesPerSecond', 'etaSeconds']) {
      assert.ok(progress.every((p) => key in p), `every progress object has ${key}`);
    }
    assert.deepEqual([...new Set(progress.map((p) => p.role))], ['draft', 'target']);
    assert.equal(progress.at(-1)?.phase, 'done');
    const gen = await cli(['generate', '--draft', result.draft.path, '--target', result.target.path, '--strategy', 'simsd-exact',
      '--prompt-ids', '1,2,3', '--max-tokens', '4', '--threads', '1', '--cache-dir', join(work, 'converted'), '--json']);
    assert.equal(gen.code, 0, gen.stderr);
    assert.equal((lastJson(gen).tokenIds as number[]).length, 4);
  });
});

test('pull REPO prints plain progress lines when stderr is not a terminal, and the result with --json', { timeout: 30_000 }, async () => {
  await withHub([{ id: DRAFT, files: files[DRAFT] }], async (hub) => {
    const r = await cli(['pull', DRAFT, '--endpoint', hub.endpoint, '--cache-dir', join(work, 'plain-cache'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastJson(r).repo, DRAFT);
    const err = lines(r.stderr);
    assert.ok(!r.stderr.includes('\r'), 'no redraws off a terminal');
    assert.ok(err.some((l) => /^ *\d+% [█░]{20} .*model\.safetensors$/.test(l)), r.stderr);
    assert.ok(err.some((l) => l.startsWith('pulled JetLM/SDAR-1.7B-Chat@main (')), r.stderr);
  });
});

test('SIGKILL mid-download, then a second run resumes the part with a ranged request', { timeout: 60_000 }, async () => {
  await withHub([{ id: BIG, files: files[BIG] }], async (hub) => {
    const size = files[BIG].find((f) => f.path === WEIGHTS)?.data.length ?? 0;
    const sha = createHash('sha256').update(files[BIG].find((f) => f.path === WEIGHTS)?.data ?? Buffer.alloc(0)).digest('hex');
    const key = `${BIG}/${WEIGHTS}`;
    const cacheDir = join(work, 'kill-cache');
    const args = ['pull', BIG, '--endpoint', hub.endpoint, '--cache-dir', cacheDir, '--json', '--progress-json'];
    hub.setFault(BIG, WEIGHTS, { trickle: { chunkBytes: 32 * 1024, intervalMs: 10 } });
    const killed = await cli(args, (child) => {
      const poll = setInterval(() => {
        if ((hub.served.get(key) ?? 0) >= 1 << 20) { clearInterval(poll); child.kill('SIGKILL'); }
      }, 5);
      child.on('close', () => clearInterval(poll));
    });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const part = join(cacheDir, 'models--JetLM--SDAR-Big', 'blobs', `${sha}.incomplete`);
    const kept = fs.statSync(part).size;
    assert.ok(kept > 0 && kept < size, `the part holds ${kept} of ${size} bytes`);
    assert.ok(!fs.existsSync(join(cacheDir, 'models--JetLM--SDAR-Big', 'blobs', sha)));
    hub.setFault(BIG, WEIGHTS, undefined);
    const r = await cli(args);
    assert.equal(r.code, 0, r.stderr);
    const result = lastJson(r) as { resumedBytes: number; path: string; files: { path: string; source: string }[] };
    const offsets = hub.downloads(BIG, WEIGHTS).map((q) => Number(/bytes=(\d+)-/.exec(q.range ?? '')?.[1] ?? 0));
    assert.deepEqual(offsets, [0, kept], 'the second run asked for the rest from the byte where the part ends');
    assert.equal(result.resumedBytes, kept);
    assert.equal(result.files.find((f) => f.path === WEIGHTS)?.source, 'resumed');
    const served = hub.served.get(key) ?? 0;
    assert.ok(served < 2 * size, `served ${served} bytes in all for a ${size}-byte file`);
    assert.equal(createHash('sha256').update(fs.readFileSync(join(result.path, WEIGHTS))).digest('hex'), sha);
  });
});

test('errors are one `simsd:` line with exit code 2; with --progress-json also one {"error"} line', { timeout: 30_000 }, async () => {
  await withHub([{ id: DRAFT, files: files[DRAFT], token: 'hf_stand_in' }], async (hub) => {
    const base = ['--endpoint', hub.endpoint, '--cache-dir', join(work, 'error-cache')];
    const denied = await cli(['pull', DRAFT, ...base]);
    assert.equal(denied.code, 2);
    assert.deepEqual(lines(denied.stderr).length, 1, denied.stderr);
    assert.match(denied.stderr, /^simsd: JetLM\/SDAR-1\.7B-Chat: the Hub refused the request \(401\): gated or missing token: set HF_TOKEN/);
    const machine = await cli(['pull', DRAFT, ...base, '--json', '--progress-json']);
    const [errorLine, simsdLine] = lines(machine.stderr);
    assert.deepEqual((JSON.parse(errorLine) as { error: { kind: string } }).error.kind, 'unauthorized');
    assert.match(simsdLine, /^simsd: /);
    const ok = await cli(['pull', DRAFT, ...base, '--token', 'hf_stand_in', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    for (const [args, pattern] of [
      [['pull'], /^simsd: pull needs REPO/],
      [['pull', '--pair', 'sdar-9b+9b'], /^simsd: --pair needs a preset name, one of sdar-1\.7b\+8b, sdar-1\.7b\+4b/],
      [['pull', 'JetLM/a--b', ...base], /^simsd: 'JetLM\/a--b' contains '--'/],
      [['pull', DRAFT, '--endpoint', 'ftp://x'], /^simsd: the Hub endpoint 'ftp:\/\/x' is not http\(s\)/],
    ] as const) {
      const bad = await cli(args);
      assert.equal(bad.code, 2, bad.stderr);
      assert.deepEqual(lines(bad.stderr).length, 1, bad.stderr);
      assert.match(bad.stderr, pattern);
    }
  });
});
