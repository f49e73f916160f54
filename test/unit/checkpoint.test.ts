// Checkpoint folders: expected tensors, single-file vs sharded reads, the inspect summary, descriptors, and
// every refusal of a bad folder (each naming the file and the tensor).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeCheckpoint, expectedTensors, openCheckpoint } from '../../src/model/checkpoint';
import { bf16ToF32, f32ToBf16 } from '../../src/model/safetensors';
import type { SdarConfig } from '../../src/model/types';
import { assertCheckpointError, editJson, editSafetensorsHeader, safetensorsHeaderBytes, tempDir, truncateFile } from '../fixtures/corrupt';
import { fixtureConfig, makeCheckpoint, makeRandomWeights, SMALL, TINY } from '../fixtures/tiny-checkpoint';

const tmp = tempDir('checkpoint');
after(() => tmp.remove());

const single = join(tmp.path, 'single');
const sharded = join(tmp.path, 'sharded');
const f32 = join(tmp.path, 'f32');
makeCheckpoint(single, { ...TINY, seed: 5 });
makeCheckpoint(sharded, { ...TINY, seed: 5, sharded: 3 });
makeCheckpoint(f32, { ...SMALL, seed: 9, dtype: 'F32', vocabSize: 640 });

/** A fresh copy of a fixture folder to break. */
let copies = 0;
const copyOf = (dir: string) => {
  const copy = join(tmp.path, `copy-${copies++}`);
  cpSync(dir, copy, { recursive: true });
  return copy;
};

describe('expected tensors', () => {
  const sdar = (hidden: number, layers: number, heads: number, inter: number): SdarConfig => ({
    ...fixtureConfig(), hiddenSize: hidden, numLayers: layers, numHeads: heads, numKvHeads: 8, headDim: 128, intermediateSize: inter, vocabSize: 151936,
  });
  const params = (c: SdarConfig) => expectedTensors(c).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);

  test('11 per layer + 3, parameter counts as models.md §2.3 (4B and 8B match their index total_size / 2)', () => {
    const b4 = sdar(2560, 36, 32, 9728);
    assert.equal(expectedTensors(b4).length, 399);
    assert.equal(params(sdar(2048, 28, 16, 6144)), 2_031_739_904);
    assert.equal(params(b4), 4_411_424_256);
    assert.equal(params(sdar(4096, 36, 32, 12288)), 8_190_735_360);
    const shapes = new Map(expectedTensors(b4).map((t) => [t.name, t.shape]));
    assert.deepEqual(shapes.get('model.layers.35.self_attn.q_proj.weight'), [4096, 2560]);
    assert.deepEqual(shapes.get('model.layers.0.self_attn.o_proj.weight'), [2560, 4096]);
    assert.deepEqual(shapes.get('model.layers.0.self_attn.k_norm.weight'), [128]);
    assert.deepEqual(shapes.get('model.layers.0.mlp.down_proj.weight'), [2560, 9728]);
    assert.deepEqual(shapes.get('lm_head.weight'), [151936, 2560]);
  });
});

describe('open and read', () => {
  test('an F32 checkpoint reads back exactly as the in-memory random weights', () => {
    const checkpoint = openCheckpoint(f32);
    const memory = makeRandomWeights(checkpoint.config, 9);
    assert.deepEqual([...checkpoint.names()].sort(), [...memory.names()].sort());
    for (const name of memory.names()) assert.deepEqual(checkpoint.read(name), memory.read(name), name);
    checkpoint.close();
  });

  test('a BF16 checkpoint reads back as the random weights rounded to bf16', () => {
    const checkpoint = openCheckpoint(single);
    const memory = makeRandomWeights(checkpoint.config, 5);
    for (const name of ['model.embed_tokens.weight', 'model.layers.1.self_attn.k_proj.weight', 'lm_head.weight']) {
      const want = memory.read(name);
      assert.deepEqual(checkpoint.read(name), { shape: want.shape, data: bf16ToF32(f32ToBf16(want.data)) }, name);
    }
    checkpoint.close();
  });

  test('a sharded read equals the single-file read, tensor by tensor', () => {
    const one = openCheckpoint(single);
    const three = openCheckpoint(sharded);
    assert.equal(three.table.files.length, 3);
    assert.ok(three.table.indexFile?.endsWith('model.safetensors.index.json'));
    assert.deepEqual(three.config, one.config);
    assert.equal(three.names().length, 11 * TINY.numLayers + 3);
    for (const name of one.names()) assert.deepEqual(three.read(name), one.read(name), name);
    one.close();
    three.close();
  });

  test('close() releases every file descriptor, and a closed checkpoint refuses reads', { skip: !existsSync('/proc/self/fd') }, () => {
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    const checkpoint = openCheckpoint(sharded);
    assert.equal(open(), before, 'opening reads headers and closes them again');
    for (const name of checkpoint.names()) checkpoint.read(name);
    assert.equal(open(), before + 3, 'one descriptor per shard');
    checkpoint.close();
    assert.equal(open(), before);
    assert.throws(() => checkpoint.read('lm_head.weight'), /closed/);
  });

  test('an unknown tensor name', () => {
    const checkpoint = openCheckpoint(single);
    assertCheckpointError(() => checkpoint.read('model.layers.9.mlp.up_proj.weight'), 'missing-tensor', 'model.safetensors', 'model.layers.9.mlp.up_proj.weight');
    checkpoint.close();
  });
});

describe('describe', () => {
  test('the inspect summary of a sharded checkpoint', () => {
    const summary = describeCheckpoint(sharded);
    const config = fixtureConfig({ ...TINY });
    assert.equal(summary.architecture, 'SDARForCausalLM');
    assert.equal(summary.hiddenSize, 64);
    assert.equal(summary.blockLength, 4);
    assert.equal(summary.maskTokenId, 511);
    assert.deepEqual(summary.stopIds, [507, 505]);
    assert.equal(summary.params, expectedTensors(config).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0));
    assert.equal(summary.weightBytes, 2 * summary.params);
    assert.deepEqual(summary.dtypes, { BF16: 25 });
    assert.deepEqual(summary.shards, ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    assert.deepEqual(summary.tokenizer, {
      vocabSize: 512, fim: true,
      specialIds: { endOfText: 505, imStart: 506, imEnd: 507, mask: 511, fimPrefix: 508, fimSuffix: 510, fimMiddle: 509 },
    });
  });

  test('config vocab padded above the tokenizer, F32 counts', () => {
    const summary = describeCheckpoint(f32);
    assert.equal(summary.vocabSize, 640);
    assert.equal(summary.tokenizer.vocabSize, 512);
    assert.deepEqual(summary.dtypes, { F32: 11 * SMALL.numLayers + 3 });
  });

  test('a missing tokenizer.json', () => {
    const dir = copyOf(single);
    rmSync(join(dir, 'tokenizer.json'));
    assertCheckpointError(() => describeCheckpoint(dir), 'missing-file', join(dir, 'tokenizer.json'));
  });
});

describe('bad folders name the file and the problem', () => {
  const layer0 = 'model.layers.0.self_attn.k_proj.weight';

  test('no weights at all', () => {
    const dir = copyOf(single);
    rmSync(join(dir, 'model.safetensors'));
    assertCheckpointError(() => openCheckpoint(dir), 'missing-file', 'model.safetensors', 'model.safetensors.index.json');
  });

  test('a missing tensor', () => {
    const dir = copyOf(single);
    editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => {
      delete h[layer0];
    });
    assertCheckpointError(() => openCheckpoint(dir), 'missing-tensor', join(dir, 'model.safetensors'), layer0);
  });

  test('a wrong shape', () => {
    const dir = copyOf(single);
    editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => {
      h[layer0].shape = [64, 32]; // same bytes as [32, 64]: only the shape check can see it
    });
    assertCheckpointError(() => openCheckpoint(dir), 'wrong-shape', join(dir, 'model.safetensors'), layer0, '[64,32]', '[32,64]');
  });

  test('a truncated shard', () => {
    const dir = copyOf(sharded);
    const shard = join(dir, 'model-00002-of-00003.safetensors');
    truncateFile(shard, 8 + safetensorsHeaderBytes(shard) + 100);
    assertCheckpointError(() => openCheckpoint(dir), 'truncated', shard);
  });

  test('a config missing a required field', () => {
    const dir = copyOf(single);
    editJson(join(dir, 'config.json'), (c) => {
      delete c.num_key_value_heads;
    });
    assertCheckpointError(() => openCheckpoint(dir), 'bad-config', join(dir, 'config.json'), 'num_key_value_heads');
  });

  test('a missing shard', () => {
    const dir = copyOf(sharded);
    rmSync(join(dir, 'model-00003-of-00003.safetensors'));
    assertCheckpointError(() => openCheckpoint(dir), 'missing-file', join(dir, 'model-00003-of-00003.safetensors'));
  });

  test('an index whose total_size disagrees with the shards', () => {
    const dir = copyOf(sharded);
    editJson(join(dir, 'model.safetensors.index.json'), (index) => {
      (index.metadata as Record<string, number>).total_size += 2;
    });
    assertCheckpointError(() => openCheckpoint(dir), 'bad-index', 'model.safetensors.index.json', 'total_size');
  });

  test('an index that maps a tensor to the wrong shard', () => {
    const dir = copyOf(sharded);
    editJson(join(dir, 'model.safetensors.index.json'), (index) => {
      (index.weight_map as Record<string, string>)['lm_head.weight'] = 'model-00001-of-00003.safetensors';
    });
    assertCheckpointError(() => openCheckpoint(dir), 'bad-index', 'model.safetensors.index.json', 'lm_head.weight');
  });

  test('an expected tensor absent from the index and the shards', () => {
    const dir = copyOf(sharded);
    editJson(join(dir, 'model.safetensors.index.json'), (index) => {
      delete (index.weight_map as Record<string, string>)['model.norm.weight'];
      (index.metadata as Record<string, number>).total_size -= 2 * TINY.hiddenSize;
    });
    const last = join(dir, 'model-00003-of-00003.safetensors');
    editSafetensorsHeader(last, (h) => {
      delete h['model.norm.weight'];
    });
    assertCheckpointError(() => openCheckpoint(dir), 'missing-tensor', 'model.safetensors.index.json', 'model.norm.weight');
  });

  test('a shard name that is a path', () => {
    const dir = copyOf(sharded);
    editJson(join(dir, 'model.safetensors.index.json'), (index) => {
      (index.weight_map as Record<string, string>)['lm_head.weight'] = '../model-00003-of-00003.safetensors';
    });
    assertCheckpointError(() => openCheckpoint(dir), 'bad-index', 'model.safetensors.index.json', 'lm_head.weight');
  });
});
