// The engine in its real worker thread (dist/worker.js) on tiny checkpoints: completions with the prefix cache
// (reuse ≡ full re-prefill), a cancellation storm (1,000 requests at 50/s), and a restart after a crash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildCursorContext } from '../../src/completion/context';
import { EngineClient, workerTransport, type Transport } from '../../src/engine/client';
import type { EngineConfig, GenerationResult } from '../../src/protocol/messages';
import type { Request } from '../../src/protocol/request';
import { tempDir } from '../fixtures/corrupt';
import { makeCheckpoint, SMALL, TINY } from '../fixtures/tiny-checkpoint';

const WORKER = resolve('dist/worker.js');
const work = tempDir('simsd-engine');
let config: EngineConfig;

before(() => {
  makeCheckpoint(join(work.path, 'target'), { ...SMALL, seed: 11 });
  // A short trained context (as the embedded pair's 256) makes the prompt budget bind, as in the extension.
  writeFileSync(join(work.path, 'target', 'manifest.json'), JSON.stringify({ trained_context_tokens: 160 }));
  makeCheckpoint(join(work.path, 'draft'), { ...TINY, seed: 12 });
  config = {
    target: { dir: join(work.path, 'target'), label: 'tiny target' }, draft: { dir: join(work.path, 'draft'), label: 'tiny draft' },
    threads: 1, cacheBudgetBytes: 4 * 2 ** 20, convertedRoot: join(work.path, 'converted'),
  };
});
after(() => work.remove());

async function startHost(transport: () => Transport = () => workerTransport(WORKER), logs: string[] = []): Promise<EngineClient> {
  let readyResolve: () => void = () => undefined;
  const ready = new Promise<void>((r) => { readyResolve = r; });
  const host = new EngineClient(config, { executionProvider: 'cpu', reason: 'test' }, transport, {
    log: (l) => logs.push(l), ready: () => readyResolve(), failed: (m) => logs.push(`failed: ${m}`),
  });
  host.start();
  await ready;
  return host;
}

const prompt = (text: number[]): Request => ({
  kind: 'completion', fileKey: 'file:///a.py', prompt: { kind: 'ids', ids: text }, params: { strategy: 'simsd-exact', maxTokens: 12 },
});

const ids = (n: number, salt = 0) => Array.from({ length: n }, (_, i) => (i * 7 + salt * 13 + 3) % 500);

test('completions reuse the file prefix cache, and reuse gives the same tokens as a full re-prefill', async () => {
  const host = await startHost();
  try {
    const first = await host.request(prompt(ids(30)));
    assert.ok(first && first.tokenIds.length > 0, 'a completion came back');
    assert.equal(first.prefix.reusedTokens, 0);
    // One more token typed: the committed blocks before it are reused.
    const typed = [...ids(30), 42];
    const warm = await host.request(prompt(typed)) as GenerationResult;
    assert.ok(warm.prefix.reusedTokens >= 28, `reused ${warm.prefix.reusedTokens} tokens`);
    assert.ok(warm.prefix.prefilledTokens <= 4, `re-prefilled ${warm.prefix.prefilledTokens} tokens`);
    const cold = await host.request({ ...prompt(typed), fileKey: 'file:///fresh.py' }) as GenerationResult;
    assert.equal(cold.prefix.reusedTokens, 0);
    assert.deepEqual(warm.tokenIds, cold.tokenIds, 'prefix-cache reuse ≡ full re-prefill');
  } finally {
    await host.dispose();
  }
});

test('a warm-up prefill builds the same prompt as the completion after it, which then re-prefills nothing', async () => {
  const host = await startHost();
  try {
    const text = Array.from({ length: 60 }, (_, i) => `def f${i}(x):\n    return x + ${i}\n`).join('') + 'def g(y):\n    return ';
    const lines = text.split('\n');
    const context = buildCursorContext({ text, languageId: 'python', uri: 'file:///w.py' }, { line: lines.length - 1, character: lines[lines.length - 1].length });
    const spec = (kind: 'warmup' | 'completion', maxTokens: number): Request => ({
      kind, fileKey: 'file:///w.py', params: { strategy: 'native', maxTokens },
      prompt: { kind: 'completion', context, ring: [], outputReserve: 24, options: { maxPromptTokens: 1024, layout: 'prefix' } },
    });
    const warm = await host.request(spec('warmup', 0)) as GenerationResult;
    assert.equal(warm.tokenIds.length, 0);
    assert.ok(warm.prefix.promptTokens <= 160 - 24, `the prompt stays within the context (${warm.prefix.promptTokens})`);
    const completion = await host.request(spec('completion', 24)) as GenerationResult;
    assert.equal(completion.prefix.promptTokens, warm.prefix.promptTokens);
    assert.equal(completion.prefix.prefilledTokens, 0, 'everything was prefilled by the warm-up');
  } finally {
    await host.dispose();
  }
});

test('a storm of 1,000 requests at 50/s with cancellations: bounded, latest wins, last answered', async () => {
  const host = await startHost();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  const rssBefore = process.memoryUsage().rss;
  let maxQueued = 0;
  const settled: Promise<GenerationResult | null>[] = [];
  try {
    for (let i = 0; i < 1000; i++) {
      let cancel: () => void = () => undefined;
      const token = { isCancellationRequested: false, onCancellationRequested: (l: () => void) => { cancel = l; } };
      const p = host.request({ ...prompt(ids(20 + (i % 40), i)), fileKey: `file:///f${i % 7}.py` }, { cancellation: token });
      settled.push(p);
      if (i % 3 === 0 && i < 999) setTimeout(() => { token.isCancellationRequested = true; cancel(); }, 5);
      maxQueued = Math.max(maxQueued, host.queueDepth);
      await new Promise((r) => setTimeout(r, 20));
    }
    const results = await Promise.all(settled);
    const last = results[results.length - 1];
    assert.ok(last !== null && last.tokenIds.length > 0, 'the last request is answered');
    assert.ok(maxQueued <= 1, `at most one queued generation (saw ${maxQueued})`);
    assert.ok(results.filter((r) => r !== null).length < 1000, 'stale requests were cancelled or superseded');
    assert.deepEqual(unhandled, []);
    const growthMB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    assert.ok(growthMB < 300, `memory grew by ${growthMB.toFixed(0)} MB`);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await host.dispose();
  }
});

test('a crashed engine is reported once, restarted, and keeps working', async () => {
  const logs: string[] = [];
  let crash: () => Promise<void> = async () => undefined;
  const factory = (): Transport => {
    const inner = workerTransport(WORKER);
    let onExit: (reason: string) => void = () => undefined;
    crash = async () => { await inner.terminate(); onExit('killed by the test'); };
    return { ...inner, onExit: (l) => { onExit = l; inner.onExit(l); } };
  };
  const host = await startHost(factory, logs);
  try {
    const pending = host.request(prompt(ids(40)));
    await crash();
    await assert.rejects(pending, /engine stopped/);
    assert.equal(logs.filter((l) => l.startsWith('failed:')).length, 1, 'said once');
    const again = await new Promise<GenerationResult | null>((resolveAgain, reject) => {
      const poll = setInterval(() => {
        if (host.ready === null) return;
        clearInterval(poll);
        host.request(prompt(ids(24))).then(resolveAgain, reject);
      }, 50);
    });
    assert.ok(again && again.tokenIds.length > 0, 'answers after the restart');
  } finally {
    await host.dispose();
  }
});
