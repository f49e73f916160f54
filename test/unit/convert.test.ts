// Conversion on bad input: every failure is a typed CheckpointError naming the file and the problem, and no
// converted folder (nor a partial one) is left behind. Also: a good conversion is complete and self-contained.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { convertCheckpoint, convertModel, CONVERSION_RECORD } from '../../src/model/convert';
import { CheckpointError, type CheckpointProblem } from '../../src/model/errors';
import { ModelSession, readConversionRecord } from '../../src/model/session';
import { editJson, editSafetensorsHeader, safetensorsHeaderBytes, tempDir, truncateFile } from '../fixtures/corrupt';
import { fixtureConfig, makeCheckpoint, makeRandomWeights, TINY } from '../fixtures/tiny-checkpoint';

async function expectNoFolder(work: string, run: () => Promise<unknown>, problem: CheckpointProblem, file: string): Promise<void> {
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof CheckpointError, `expected a CheckpointError, got ${String(err)}`);
    assert.equal(err.problem, problem, err.message);
    assert.ok(err.message.includes(file), `message does not name ${file}: ${err.message}`);
    return true;
  });
  const left = readdirSync(work).filter((n) => n.startsWith('out'));
  assert.deepEqual(left, [], `left behind: ${left.join(', ')}`);
}

const BAD_INPUTS: { name: string; problem: CheckpointProblem; file: string; damage(dir: string): void }[] = [
  { name: 'truncated safetensors', problem: 'truncated', file: 'model.safetensors',
    damage: (dir) => truncateFile(join(dir, 'model.safetensors'), safetensorsHeaderBytes(join(dir, 'model.safetensors')) + 8 + 1000) },
  { name: 'header offsets past the end', problem: 'offset-out-of-bounds', file: 'model.safetensors',
    damage: (dir) => editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => {
      const e = h['model.norm.weight'] as { data_offsets: number[] };
      e.data_offsets = [e.data_offsets[0] + 1e9, e.data_offsets[1] + 1e9];
    }) },
  { name: 'a missing tensor', problem: 'missing-tensor', file: 'model.safetensors',
    damage: (dir) => editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => { delete h['model.layers.1.mlp.up_proj.weight']; }) },
  { name: 'a wrong shape', problem: 'wrong-shape', file: 'model.safetensors',
    damage: (dir) => editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => {
      const e = h['model.layers.0.self_attn.k_proj.weight'] as { shape: number[] };
      e.shape = [e.shape[1], e.shape[0]];
    }) },
  { name: 'an unknown dtype', problem: 'unknown-dtype', file: 'model.safetensors',
    damage: (dir) => editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => { (h['model.norm.weight'] as { dtype: string }).dtype = 'I8'; }) },
  { name: 'a config missing a required field', problem: 'bad-config', file: 'config.json',
    damage: (dir) => editJson(join(dir, 'config.json'), (c) => { delete c.num_key_value_heads; }) },
  { name: 'a missing tokenizer', problem: 'missing-file', file: 'tokenizer.json',
    damage: (dir) => rmSync(join(dir, 'tokenizer.json')) },
];

for (const bad of BAD_INPUTS) {
  test(`convert refuses ${bad.name} and leaves no folder`, async () => {
    const work = tempDir('simsd-convert');
    try {
      const dir = join(work.path, 'ckpt');
      makeCheckpoint(dir, { ...TINY });
      bad.damage(dir);
      await expectNoFolder(work.path, () => convertCheckpoint(dir, join(work.path, 'out'), { weights: 'int4' }), bad.problem, bad.file);
    } finally {
      work.remove();
    }
  });
}

test('a failure in the middle of writing (a tensor unreadable late) removes the partial folder', async () => {
  const work = tempDir('simsd-convert');
  try {
    const good = makeRandomWeights(fixtureConfig({ ...TINY }), 1);
    const failing = { ...good, read: (name: string) => {
      if (name === 'lm_head.weight') throw new CheckpointError('model.safetensors', 'truncated', 'lm_head.weight ends past the end of the file');
      return good.read(name);
    } };
    await expectNoFolder(work.path, () => convertModel(failing, join(work.path, 'out'), { weights: 'fp32' }), 'truncated', 'model.safetensors');
  } finally {
    work.remove();
  }
});

test('fp16 conversion refuses weights that overflow fp16, naming the tensor', async () => {
  const work = tempDir('simsd-convert');
  try {
    const good = makeRandomWeights(fixtureConfig({ ...TINY }), 1);
    const huge = { ...good, read: (name: string) => {
      const t = good.read(name);
      if (name === 'model.layers.1.mlp.down_proj.weight') t.data[3] = 1e6;
      return t;
    } };
    await expectNoFolder(work.path, () => convertModel(huge, join(work.path, 'out'), { weights: 'fp16' }), 'bad-model', 'model.layers.1.mlp.down_proj.weight');
  } finally {
    work.remove();
  }
});

test('a sharded BF16 checkpoint converts into a complete, self-contained folder; reconversion replaces it whole', async () => {
  const work = tempDir('simsd-convert');
  try {
    const dir = join(work.path, 'ckpt');
    makeCheckpoint(dir, { ...TINY, sharded: 3 });
    const out = join(work.path, 'out');
    const manifest = await convertCheckpoint(dir, out, { weights: 'int4' });
    for (const f of ['model.onnx', 'model.sampling.onnx', 'model.debug.onnx', 'model.data', CONVERSION_RECORD, 'tokenizer.json', 'config.json']) {
      assert.ok(existsSync(join(out, f)), `${f} missing`);
    }
    assert.equal(readConversionRecord(out).weights, 'int4');
    assert.equal(manifest.config.maskTokenId, fixtureConfig().maskTokenId);
    // A file only the first conversion wrote must be gone: the folder is replaced, not merged. (A file the user
    // put there makes reconversion refuse instead: convert-out.test.ts.)
    await convertCheckpoint(dir, out, { weights: 'fp32', variants: ['greedy'] });
    assert.equal(readConversionRecord(out).weights, 'fp32');
    assert.ok(!existsSync(join(out, 'model.sampling.onnx')), 'the old folder was replaced');
    assert.deepEqual(readdirSync(work.path).sort(), ['ckpt', 'out']);
  } finally {
    work.remove();
  }
});

test('every graph variant of every weight format loads (the variants share model.data)', async () => {
  const work = tempDir('simsd-convert');
  try {
    const source = makeRandomWeights(fixtureConfig({ ...TINY }), 2);
    for (const weights of ['fp32', 'int4', 'fp16'] as const) {
      const out = join(work.path, weights);
      await convertModel(source, out, { weights });
      for (const variant of ['greedy', 'sampling', 'debug'] as const) {
        const session = await ModelSession.open(out, { variant, threads: 1 });
        assert.equal(session.record.weights, weights);
        await session.close();
      }
    }
  } finally {
    work.remove();
  }
});
