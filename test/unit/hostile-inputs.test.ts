// The reproducers of the reliability review (issue 10), each now refused with a typed error naming the file or the
// value, quickly and without allocating what the hostile value asked for: huge config values, special files, a
// looping chat template, an unrelated manifest.json, a tampered model.json, a tokenizer that does not fit the model,
// token ids outside the vocabulary and prompts beyond the context.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../../src/decode/generate';
import { resolveModel } from '../../src/engine/models';
import { describeCheckpoint, openCheckpoint } from '../../src/model/checkpoint';
import { convertCheckpoint } from '../../src/model/convert';
import { RequestError } from '../../src/model/errors';
import { HostKvCache } from '../../src/model/kv';
import { ReferenceModel } from '../../src/model/reference';
import { ModelSession } from '../../src/model/session';
import { loadTokenizer } from '../../src/model/tokenizer';
import { assertCheckpointError, editJson, tempDir } from '../fixtures/corrupt';
import { makeCheckpoint, makeRandomWeights, fixtureConfig, TINY } from '../fixtures/tiny-checkpoint';

const tmp = tempDir('hostile');
after(() => tmp.remove());
const base = join(tmp.path, 'base');
makeCheckpoint(base, { ...TINY, seed: 3 });
let copies = 0;
const copy = () => {
  const dir = join(tmp.path, `c${copies++}`);
  cpSync(base, dir, { recursive: true });
  return dir;
};

/** Runs fn and returns how long it took; the bound is generous (a shared 2-core machine), the failure mode is minutes. */
function quickly<T>(fn: () => T, ms = 2_000): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    const took = performance.now() - t0;
    assert.ok(took < ms, `took ${took.toFixed(0)} ms`);
  }
}

test('huge config values are refused before anything is sized from them (layers 1e7, positions 1e12, block 1e6)', () => {
  for (const [key, value] of [['num_hidden_layers', 1e7], ['max_position_embeddings', 1e12], ['block_size', 1e6], ['vocab_size', 2 ** 31], ['hidden_size', 1e9]] as const) {
    const dir = copy();
    editJson(join(dir, 'config.json'), (c) => { c[key] = value; });
    const rssBefore = process.memoryUsage().rss;
    quickly(() => assertCheckpointError(() => openCheckpoint(dir), 'bad-config', join(dir, 'config.json'), key, 'must be an integer in [1,'));
    assert.ok(process.memoryUsage().rss - rssBefore < 200 * 2 ** 20, `${key}: memory grew`);
  }
});

test('a FIFO, /dev/zero, a directory or a 3 MB file as config.json or tokenizer.json: refused at once, naming it', () => {
  const cases: [string, (file: string) => void, string][] = [
    ['config.json', (f) => execFileSync('mkfifo', [f]), 'is a FIFO'],
    ['config.json', (f) => symlinkSync('/dev/zero', f), 'is a device'],
    ['tokenizer.json', (f) => symlinkSync('/dev/zero', f), 'is a device'],
    ['tokenizer.json', (f) => execFileSync('mkfifo', [f]), 'is a FIFO'],
    ['model.safetensors', (f) => execFileSync('mkfifo', [f]), 'is a FIFO'],
    ['config.json', (f) => writeFileSync(f, `{"x":"${'y'.repeat(3 << 20)}"}`), 'more than the'],
  ];
  for (const [name, make, fragment] of cases) {
    const dir = copy();
    const file = join(dir, name);
    rmSync(file);
    make(file);
    const problem = name === 'model.safetensors' ? 'bad-header' : name === 'config.json' ? 'bad-config' : 'bad-tokenizer';
    quickly(() => assertCheckpointError(() => describeCheckpoint(dir), problem, file, fragment));
  }
});

test('a chat template that never ends is stopped by its render budget; the tokenizer keeps working after it', () => {
  const dir = copy();
  editJson(join(dir, 'tokenizer_config.json'), (c) => { c.chat_template = '{% for i in range(10000000000) %}x{% endfor %}'; });
  const tokenizer = loadTokenizer(dir);
  quickly(() => assertCheckpointError(() => tokenizer.renderChat([{ role: 'user', content: 'hi' }]), 'bad-tokenizer', 'tokenizer_config.json', 'took longer than'), 5_000);
  assert.ok(tokenizer.encode('def f(x):').length > 0, 'still usable');
});

test('an unrelated non-JSON manifest.json beside the checkpoint or in its parent is ignored with a log line naming it', async () => {
  const parent = join(tmp.path, 'with-manifests');
  const dir = join(parent, 'model');
  cpSync(base, dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), 'this is a user file, not JSON');
  writeFileSync(join(parent, 'manifest.json'), '<html>');
  const logs: string[] = [];
  const resolved = await resolveModel(dir, join(tmp.path, 'converted'), (l) => logs.push(l));
  assert.equal(resolved.fim, false);
  assert.ok(logs.some((l) => l.startsWith(`ignoring ${join(dir, 'manifest.json')}: `)), logs.join('\n'));
  assert.ok(logs.some((l) => l.includes(join(parent, 'manifest.json'))), logs.join('\n'));
});

test('a converted folder whose model.json was tampered with (numLayers 1e6, bad ids, another layer count) is refused before allocation', async () => {
  const out = join(tmp.path, 'converted-ok');
  await convertCheckpoint(base, out, { weights: 'fp32', variants: ['greedy'] });
  for (const [edit, fragment] of [
    [(m: Record<string, Record<string, unknown>>) => { m.config.numLayers = 1e6; }, 'num_hidden_layers must be an integer in [1, 512]'],
    [(m: Record<string, Record<string, unknown>>) => { m.config.maskTokenId = 1e9; }, 'maskTokenId'],
    [(m: Record<string, Record<string, unknown>>) => { m.config.numLayers = 3; }, 'says 3 layers but model.onnx has 2'],
  ] as const) {
    const dir = join(tmp.path, `tampered-${copies++}`);
    cpSync(out, dir, { recursive: true });
    editJson(join(dir, 'model.json'), (m) => { edit(m as Record<string, Record<string, unknown>>); });
    await assert.rejects(ModelSession.open(dir), (e: Error) => e.message.includes(join(dir, 'model.json')) && e.message.includes(fragment));
  }
});

test('a tokenizer with ids beyond vocab_size does not pass inspect or convert', async () => {
  const dir = copy();
  editJson(join(dir, 'tokenizer.json'), (t) => { (t.added_tokens as unknown[]).push({ id: 5000, content: '<|extra|>', special: true }); });
  assertCheckpointError(() => describeCheckpoint(dir), 'bad-tokenizer', join(dir, 'tokenizer.json'), 'ids up to 5000', 'vocab_size 512');
  await assert.rejects(convertCheckpoint(dir, join(tmp.path, 'never'), { weights: 'fp32' }), /ids up to 5000/);
});

test('token ids outside the vocabulary and prompts beyond the context are refused before any forward', async () => {
  const config = fixtureConfig({ ...TINY });
  let forwards = 0;
  const model = new ReferenceModel(makeRandomWeights(config, 3), 'greedy');
  const counting = { config: model.config, variant: model.variant, createCache: (c?: number) => model.createCache(c), forward: (...a: Parameters<typeof model.forward>) => { forwards++; return model.forward(...a); } };
  const caches = () => ({ target: HostKvCache.forConfig(config) });
  const request = { strategy: 'native' as const, maxTokens: 8 };
  for (const ids of [[1, 2, config.vocabSize], [1, -1], [4294967295], [1.5]]) {
    await assert.rejects(generate({ target: counting }, caches(), ids, request), (e: Error) => e instanceof RequestError && /outside the vocabulary/.test(e.message));
  }
  const long = Array.from({ length: config.maxPositions - 4 }, (_, i) => i % 100);
  await assert.rejects(generate({ target: counting }, caches(), long, request), (e: Error) => e instanceof RequestError && /max_position_embeddings/.test(e.message));
  await assert.rejects(generate({ target: counting }, caches(), [1, 2, 3], { ...request, maxTokens: 1e9 }), /max_position_embeddings/);
  assert.equal(forwards, 0, 'nothing ran');
  assert.throws(() => HostKvCache.forConfig(config, 5_000_000), RequestError);
});
