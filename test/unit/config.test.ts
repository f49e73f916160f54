// config.json + generation_config.json → SdarConfig: the real SDAR files, the fallbacks, and every refusal.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, readConfig } from '../../src/model/config';
import { assertCheckpointError, tempDir } from '../fixtures/corrupt';
import { fixtureConfig, makeCheckpoint, SMALL } from '../fixtures/tiny-checkpoint';

const tmp = tempDir('config');
after(() => tmp.remove());

/** JetAstra/SDAR training/model/SDAR-4B-Chat/config.json, verbatim. */
const SDAR_4B = {
  architectures: ['SDARForCausalLM'],
  auto_map: { AutoConfig: 'configuration_sdar.SDARConfig', AutoModel: 'modeling_sdar.SDARModel', AutoModelForCausalLM: 'modeling_sdar.SDARForCausalLM' },
  attention_bias: false, attention_dropout: 0.0, attn_implementation: 'flex_attention', bos_token_id: 151643, debug: false,
  eos_token_id: 151643, block_size: 4, mask_token_id: 151669, ep_size: 1, fuse_cross_entropy: true, head_dim: 128,
  hidden_act: 'silu', hidden_size: 2560, initializer_range: 0.02, intermediate_size: 9728, max_position_embeddings: 32768,
  max_window_layers: 36, micro_forward: false, model_type: 'sdar', num_attention_heads: 32, num_hidden_layers: 36,
  num_key_value_heads: 8, rms_norm_eps: 1e-6, rope_scaling: null, rope_theta: 1000000, skip_checkpoint: false,
  sliding_window: null, tie_word_embeddings: false, torch_dtype: 'bfloat16', transformers_version: '4.52.4',
  use_cache: false, use_deepep: false, use_sliding_window: false, vocab_size: 151936,
};
/** …/generation_config.json, verbatim. */
const SDAR_GENERATION = { bos_token_id: 151643, do_sample: true, eos_token_id: [151645, 151643], pad_token_id: 151643, temperature: 0.6, top_k: 20, top_p: 0.95, transformers_version: '4.51.0' };

const FILE = 'ckpt/config.json';
const GEN = 'ckpt/generation_config.json';
const parse = (config: unknown, generation: unknown = SDAR_GENERATION, tokenizerMaskId?: number) =>
  parseConfig({ configFile: FILE, config, generationFile: GEN, generation }, tokenizerMaskId);
const without = (key: string) => Object.fromEntries(Object.entries(SDAR_4B).filter(([k]) => k !== key));

describe('parse', () => {
  test('the SDAR-4B-Chat files', () => {
    assert.deepEqual(parse(SDAR_4B), {
      hiddenSize: 2560, numLayers: 36, numHeads: 32, numKvHeads: 8, headDim: 128, intermediateSize: 9728, vocabSize: 151936,
      maxPositions: 32768, ropeTheta: 1e6, rmsNormEps: 1e-6, blockLength: 4, maskTokenId: 151669, stopIds: [151645, 151643], torchDtype: 'bfloat16',
    });
  });

  test('block_size and mask_token_id fall back to 4 and the tokenizer mask id, else 151669 (the older "config copy.json")', () => {
    const old = Object.fromEntries(Object.entries(SDAR_4B).filter(([k]) => k !== 'block_size' && k !== 'mask_token_id'));
    assert.equal(parse(old).blockLength, 4);
    assert.equal(parse(old).maskTokenId, 151669);
    assert.equal(parse(old, SDAR_GENERATION, 151670).maskTokenId, 151670);
    assert.equal(parse({ ...SDAR_4B, block_size: 8 }, SDAR_GENERATION, 151670).blockLength, 8);
    assert.equal(parse(SDAR_4B, SDAR_GENERATION, 151670).maskTokenId, 151669, 'config.json wins over the tokenizer');
  });

  test('stop ids: generation_config first, then config eos, deduplicated; without the file, config eos + the Qwen pair', () => {
    assert.deepEqual(parse({ ...SDAR_4B, eos_token_id: 7 }).stopIds, [151645, 151643, 7]);
    assert.deepEqual(parse(SDAR_4B, { eos_token_id: 151645 }).stopIds, [151645, 151643]);
    assert.deepEqual(parse(SDAR_4B, null).stopIds, [151643, 151645]);
    assert.deepEqual(parse({ ...SDAR_4B, vocab_size: 1000, eos_token_id: 5, mask_token_id: 9 }, null).stopIds, [5], 'Qwen ids outside the vocabulary are not stop ids');
  });

  test('head_dim falls back to hidden / heads', () => {
    assert.equal(parse({ ...without('head_dim'), hidden_size: 4096 }).headDim, 128);
  });
});

describe('refusals name the file and the field', () => {
  const required = ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'intermediate_size', 'vocab_size', 'max_position_embeddings', 'rope_theta', 'rms_norm_eps'];
  for (const key of required) {
    test(`missing ${key}`, () => {
      assertCheckpointError(() => parse(without(key)), 'bad-config', FILE, key, 'missing');
    });
  }

  const bad: [string, Record<string, unknown>, string][] = [
    ['a string size', { hidden_size: '2560' }, 'hidden_size'],
    ['a fractional size', { intermediate_size: 97.5 }, 'intermediate_size'],
    ['a zero size', { num_hidden_layers: 0 }, 'num_hidden_layers'],
    ['a negative size', { vocab_size: -5 }, 'vocab_size'],
    ['a non-positive rms_norm_eps', { rms_norm_eps: 0 }, 'rms_norm_eps'],
    ['heads not a multiple of kv heads', { num_attention_heads: 32, num_key_value_heads: 6 }, 'num_key_value_heads'],
    ['rope_scaling set', { rope_scaling: { type: 'yarn', factor: 4 } }, 'rope_scaling'],
    ['tied embeddings', { tie_word_embeddings: true }, 'tie_word_embeddings'],
    ['attention biases', { attention_bias: true }, 'attention_bias'],
    ['sliding-window attention', { use_sliding_window: true }, 'use_sliding_window'],
    ['another activation', { hidden_act: 'gelu' }, 'hidden_act'],
    ['an MoE checkpoint', { num_experts: 128, architectures: ['SDARMoeForCausalLM'] }, 'num_experts'],
    ['a zero block_size', { block_size: 0 }, 'block_size'],
    ['a mask id outside the vocabulary', { mask_token_id: 151936 }, 'mask_token_id'],
    ['no eos anywhere', { eos_token_id: undefined }, 'eos_token_id'],
  ];
  for (const [what, change, field] of bad) {
    test(what, () => {
      const generation = field === 'eos_token_id' ? {} : SDAR_GENERATION;
      assertCheckpointError(() => parse({ ...SDAR_4B, ...change }, generation), 'bad-config', FILE, field);
    });
  }

  test('head_dim absent and hidden not divisible by heads', () => {
    assertCheckpointError(() => parse({ ...without('head_dim'), hidden_size: 2570 }), 'bad-config', FILE, 'head_dim');
  });

  test('a stop id outside the vocabulary names generation_config.json', () => {
    assertCheckpointError(() => parse(SDAR_4B, { eos_token_id: [151645, 200000] }), 'bad-config', GEN, 'eos_token_id', '200000');
  });

  test('a config that is not an object', () => {
    assertCheckpointError(() => parse([1, 2]), 'bad-config', FILE, 'not a JSON object');
  });
});

describe('read from disk', () => {
  test('the fixture checkpoint reads back as the config it was written from', () => {
    const dir = join(tmp.path, 'small');
    const written = makeCheckpoint(dir, { ...SMALL, blockLength: 8, dtype: 'F32' });
    assert.deepEqual(readConfig(dir), written);
    assert.deepEqual(written, fixtureConfig({ ...SMALL, blockLength: 8, dtype: 'F32' }));
  });

  test('a missing config.json', () => {
    const dir = join(tmp.path, 'empty');
    mkdirSync(dir);
    assertCheckpointError(() => readConfig(dir), 'missing-file', join(dir, 'config.json'));
  });

  test('an unparsable config.json, and generation_config.json', () => {
    const dir = join(tmp.path, 'broken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), '{"hidden_size": 64,');
    assertCheckpointError(() => readConfig(dir), 'bad-config', join(dir, 'config.json'), 'not valid JSON');
    writeFileSync(join(dir, 'config.json'), JSON.stringify(SDAR_4B));
    writeFileSync(join(dir, 'generation_config.json'), 'eos');
    assertCheckpointError(() => readConfig(dir), 'bad-config', join(dir, 'generation_config.json'), 'not valid JSON');
    rmSync(join(dir, 'generation_config.json'));
    assert.deepEqual(readConfig(dir).stopIds, [151643, 151645]);
  });
});
