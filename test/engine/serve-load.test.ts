// A bounded load run of `simsd serve` (the embedded pair, one thread): 50 streaming clients at once, every fifth
// abandoning its stream after the first event; every other answer is complete and equal to its sequential answer,
// the server cancels the abandoned generations, answers the next request, and its memory stays bounded. The same run
// as a tool: `node out/tools/serve-load.js` prints its figures as one JSON line.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, CLI, serveLoad, spawnServe, type ServeProcess } from '../serve-helpers';

let work = '';
let server: ServeProcess;

before(async () => {
  assert.ok(existsSync(CLI), 'dist/cli.js is missing: build with `node esbuild.mjs` first');
  work = mkdtempSync(join(tmpdir(), 'simsd-serve-load-'));
  server = await spawnServe(['--target', 'models/target', '--draft', 'models/draft', '--strategy', 'simsd-exact', '--threads', '1',
    '--cache-dir', join(work, 'converted'), '--max-queue', '64']);
});
after(async () => {
  await server?.stop('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

test('50 concurrent streams, a fifth abandoned: the others complete and equal their sequential answers; memory bounded', async (t) => {
  const model = server.listening.model;
  const figures = await serveLoad(server.base, model, { clients: 50, abandonEvery: 5, maxTokens: 16 });
  t.diagnostic(JSON.stringify(figures));
  assert.equal(figures.abandoned, 10);
  assert.equal(figures.completed, 40);
  assert.equal(figures.mismatches, 0, 'every completed stream equals its sequential answer');
  assert.ok(figures.cancelled >= 1, 'abandoned generations were cancelled');
  assert.ok(figures.rssAfterMb - figures.rssBeforeMb < 200, `RSS ${figures.rssBeforeMb} → ${figures.rssAfterMb} MB`);
  assert.ok(figures.wallMs < 40_000, `${figures.wallMs} ms`);
  const next = await call(server.base, 'POST', '/v1/completions', { model, prompt: 'def add(a, b):', max_tokens: 8 });
  assert.equal(next.status, 200);
  const health = await call(server.base, 'GET', '/health');
  assert.deepEqual([health.body.queue, health.body.inFlight], [0, false], 'nothing left queued or running');
});
