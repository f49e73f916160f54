// The server's prompt kinds in the real engine worker, on tiny checkpoints whose manifest says FIM works: a text
// prompt with a suffix is exactly the PSM ids, without one the prefix's ids; chat messages are the template's ids;
// such prompts are held to the context (refused as EngineRequestError, never cut, maxTokens not capped); stop strings
// end the generation in the engine, just after the token that completes one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stopStringCut } from '../../src/decode/canvas';
import { EngineClient, EngineRequestError, workerTransport } from '../../src/engine/client';
import { loadTokenizer, type SdarTokenizer } from '../../src/model/tokenizer';
import type { GenerationResult } from '../../src/protocol/messages';
import type { GenerateParams, PromptSpec } from '../../src/protocol/request';
import { tempDir } from '../fixtures/corrupt';
import { makeCheckpoint, SMALL, TINY } from '../fixtures/tiny-checkpoint';

const work = tempDir('simsd-serve-prompts');
const CONTEXT = 96;
let client: EngineClient;
let tokenizer: SdarTokenizer;

before(async () => {
  const target = join(work.path, 'target');
  makeCheckpoint(target, { ...SMALL, seed: 21 });
  writeFileSync(join(target, 'manifest.json'), JSON.stringify({ fim: true, trained_context_tokens: CONTEXT }));
  makeCheckpoint(join(work.path, 'draft'), { ...TINY, seed: 22 });
  tokenizer = loadTokenizer(target);
  let ready: () => void = () => undefined;
  const loaded = new Promise<void>((r) => { ready = r; });
  client = new EngineClient({
    target: { dir: target, label: 'tiny target' }, draft: { dir: join(work.path, 'draft'), label: 'tiny draft' },
    threads: 1, cacheBudgetBytes: 4 * 2 ** 20, convertedRoot: join(work.path, 'converted'),
  }, { executionProvider: 'cpu', reason: 'test' }, () => workerTransport(resolve('dist/worker.js')), {
    log: () => undefined, ready: () => ready(), failed: (m) => { throw new Error(m); },
  }, { queue: { kind: 'fifo', max: 4 } });
  client.start();
  await loaded;
  assert.equal(client.ready?.fim, true);
});
after(async () => {
  await client?.dispose();
  work.remove();
});

const PARAMS: GenerateParams = { strategy: 'simsd-exact', maxTokens: 12, modelStopIds: false };
const ask = (prompt: PromptSpec, params: Partial<GenerateParams> = {}, fileKey = '') =>
  client.request({ kind: 'generate', fileKey, prompt, params: { ...PARAMS, ...params } }) as Promise<GenerationResult>;

test('text with a suffix ≡ the PSM ids; without one ≡ the prefix ids; messages ≡ the chat template ids', async () => {
  const fim = tokenizer.fim;
  assert.ok(fim !== null);
  const prefix = 'def add(a, b):\n    ';
  const suffix = '\n\nprint(add(1, 2))\n';
  const psm = [fim.prefix, ...tokenizer.encode(prefix), fim.suffix, ...tokenizer.encode(suffix), fim.middle];
  const pairs: [PromptSpec, number[]][] = [
    [{ kind: 'text', prefix, suffix }, psm],
    [{ kind: 'text', prefix }, tokenizer.encode(prefix)],
    [{ kind: 'messages', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Add two numbers.' }] },
      tokenizer.encodeChat([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Add two numbers.' }])],
  ];
  for (const [spec, ids] of pairs) {
    const served = await ask(spec, {}, 'serve:slot');
    const direct = await ask({ kind: 'ids', ids });
    assert.equal(served.prefix.promptTokens, ids.length, spec.kind);
    assert.deepEqual(served.tokenIds, direct.tokenIds, spec.kind);
  }
});

test('server prompts are held to the context as asked: refused beyond it, maxTokens above half the context kept', async () => {
  const long = 'x = 1\n'.repeat(200);
  await assert.rejects(ask({ kind: 'text', prefix: long }), (e: unknown) => e instanceof EngineRequestError && /context is 96 tokens/.test((e as Error).message));
  await assert.rejects(ask({ kind: 'text', prefix: 'a' }, { maxTokens: CONTEXT }), EngineRequestError);
  const wide = await ask({ kind: 'text', prefix: 'a' }, { maxTokens: 60 });
  assert.equal(wide.tokenIds.length, 60, 'not capped to half the context (48)');
  const after = await ask({ kind: 'text', prefix: 'a' });
  assert.equal(after.tokenIds.length, 12, 'the engine goes on serving');
});

test('stop strings end the generation in the engine, just after the token that completes one', async () => {
  const full = await ask({ kind: 'text', prefix: 'def f(x):' }, { maxTokens: 24 });
  const text = (id: number) => tokenizer.decode([id]);
  const k = full.tokenIds.findIndex((id, i) => i >= 4 && text(id).trim() !== '' && !text(id).includes('\uFFFD'));
  assert.ok(k > 0, 'a token with plain text');
  const stop = text(full.tokenIds[k]);
  const cut = await ask({ kind: 'text', prefix: 'def f(x):' }, { maxTokens: 24, stopStrings: [stop] });
  assert.deepEqual(cut.tokenIds, full.tokenIds.slice(0, stopStringCut(full.tokenIds, text, [stop]) ?? undefined));
  assert.equal(cut.finishReason, 'stop');
});
