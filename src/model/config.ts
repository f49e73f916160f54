// SdarConfig: parse and validate config.json and generation_config.json (models.md §2.1, §2.2).
// Fallbacks: block_size 4; mask_token_id → the tokenizer's mask id → 151669; head_dim → hidden / heads
// (what transformers' Qwen3Config does; a wrong guess cannot pass unnoticed, because the checkpoint's
// q/k/v/o shapes are checked against it). Training-only fields are ignored.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from './errors';
import type { SdarConfig } from './types';
import { MAX_BYTES, readJsonFile } from './user-file';

export const CONFIG_FILE = 'config.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';

const FALLBACK_BLOCK_LENGTH = 4;

/**
 * Sanity bounds on the sizes a config may declare, checked before anything is sized from them (the expected-tensor
 * list, RoPE tables of max_position_embeddings rows, KV caches). Each is far above every SDAR/Qwen3 checkpoint
 * (SDAR-8B: hidden 4096, 36 layers, 32/8 heads, head 128, FFN 12288, vocab 151936, 40960 positions; block lengths
 * 4–64), and low enough that a hostile file cannot make us allocate
 * gigabytes before the weights (whose headers must then match these shapes) are even looked at.
 */
export const CONFIG_LIMITS: Readonly<Record<string, { readonly field: keyof SdarConfig; readonly max: number }>> = {
  hidden_size: { field: 'hiddenSize', max: 65_536 },
  num_hidden_layers: { field: 'numLayers', max: 512 },
  num_attention_heads: { field: 'numHeads', max: 512 },
  num_key_value_heads: { field: 'numKvHeads', max: 512 },
  head_dim: { field: 'headDim', max: 1_024 },
  intermediate_size: { field: 'intermediateSize', max: 1 << 20 },
  vocab_size: { field: 'vocabSize', max: 1 << 22 },
  max_position_embeddings: { field: 'maxPositions', max: 1 << 18 },
  block_size: { field: 'blockLength', max: 64 },
};

/** Checks a parsed config (from config.json, or a converted folder's model.json) against CONFIG_LIMITS. */
export function checkConfigLimits(config: SdarConfig, file: string): void {
  for (const [key, { field, max }] of Object.entries(CONFIG_LIMITS)) {
    const v = config[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0 || v > max) {
      throw new CheckpointError(file, 'bad-config', `${key} must be an integer in [1, ${max}], got ${JSON.stringify(v)}`);
    }
  }
  if (config.headDim % 2 !== 0) throw new CheckpointError(file, 'bad-config', `head_dim must be even (rotary embeddings rotate halves), got ${config.headDim}`);
  if (config.blockLength > config.maxPositions) throw new CheckpointError(file, 'bad-config', `block_size (${config.blockLength}) exceeds max_position_embeddings (${config.maxPositions})`);
  if (!(config.rmsNormEps > 0 && config.rmsNormEps < 1)) throw new CheckpointError(file, 'bad-config', `rms_norm_eps must be in (0, 1), got ${config.rmsNormEps}`);
  if (!(config.ropeTheta > 0 && Number.isFinite(config.ropeTheta))) throw new CheckpointError(file, 'bad-config', `rope_theta must be a positive number, got ${config.ropeTheta}`);
}
const FALLBACK_MASK_TOKEN_ID = 151669;
/** `<|im_end|>` and `<|endoftext|>`: the Qwen stop pair, used when generation_config.json is absent. */
const QWEN_STOP_IDS: readonly number[] = [151645, 151643];

/** The parsed JSON of both files; `generation` is null when generation_config.json is absent. */
export interface ConfigSources {
  readonly configFile: string;
  readonly config: unknown;
  readonly generationFile: string;
  readonly generation: unknown;
}

/** Reads `dir/config.json` and `dir/generation_config.json` (optional). */
export function readConfig(dir: string, tokenizerMaskId?: number): SdarConfig {
  const configFile = join(dir, CONFIG_FILE);
  const generationFile = join(dir, GENERATION_CONFIG_FILE);
  const generation = existsSync(generationFile) ? readJsonFile(generationFile, MAX_BYTES.config, 'bad-config') : null;
  return parseConfig({ configFile, config: readJsonFile(configFile, MAX_BYTES.config, 'bad-config'), generationFile, generation }, tokenizerMaskId);
}

/**
 * Validates the parsed files. Stop ids: generation_config.json `eos_token_id` (number or list) then config.json
 * `eos_token_id`, deduplicated; without generation_config.json, config.json's eos plus the Qwen pair
 * {151645, 151643} where those ids fit the vocabulary (the SDAR release stops on both, models.md §2.2).
 */
export function parseConfig(src: ConfigSources, tokenizerMaskId?: number): SdarConfig {
  const file = src.configFile;
  if (!isRecord(src.config)) throw new CheckpointError(file, 'bad-config', 'the file is not a JSON object');
  const c = src.config;
  const fail = (key: string, what: string) => new CheckpointError(file, 'bad-config', `${key} ${what}`);
  const present = (key: string) => c[key] !== undefined && c[key] !== null;
  const positiveInt = (key: string): number => {
    if (!present(key)) throw fail(key, 'is missing');
    const v = c[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw fail(key, `must be an integer, got ${JSON.stringify(v)}`);
    const max = CONFIG_LIMITS[key]?.max ?? Number.MAX_SAFE_INTEGER;
    if (v <= 0 || v > max) throw fail(key, `must be an integer in [1, ${max}], got ${v}`);
    return v;
  };
  const positiveNumber = (key: string): number => {
    if (!present(key)) throw fail(key, 'is missing');
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw fail(key, `must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };

  // Features this runtime does not implement: refuse rather than compute a different model.
  if (present('num_experts') || String(c.architectures ?? '').includes('Moe')) throw fail('num_experts', 'is set: SDAR MoE checkpoints are not supported');
  if (present('rope_scaling')) throw fail('rope_scaling', `must be null (SDAR uses plain RoPE), got ${JSON.stringify(c.rope_scaling)}`);
  if (c.tie_word_embeddings === true) throw fail('tie_word_embeddings', 'must be false: SDAR checkpoints carry their own lm_head.weight');
  if (c.attention_bias === true) throw fail('attention_bias', 'must be false: SDAR attention has no biases');
  if (c.use_sliding_window === true) throw fail('use_sliding_window', 'must be false: sliding-window attention is not supported');
  if (present('hidden_act') && c.hidden_act !== 'silu') throw fail('hidden_act', `must be "silu", got ${JSON.stringify(c.hidden_act)}`);

  const hiddenSize = positiveInt('hidden_size');
  const numHeads = positiveInt('num_attention_heads');
  const numKvHeads = positiveInt('num_key_value_heads');
  if (numHeads % numKvHeads !== 0) throw fail('num_attention_heads', `(${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  if (!present('head_dim') && hiddenSize % numHeads !== 0) throw fail('head_dim', `is missing and hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numHeads})`);
  const headDim = present('head_dim') ? positiveInt('head_dim') : hiddenSize / numHeads;
  const vocabSize = positiveInt('vocab_size');
  const tokenId = (key: string, v: unknown, where = file): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= vocabSize) {
      throw new CheckpointError(where, 'bad-config', `${key} must be token ids in [0, ${vocabSize}), got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const tokenIds = (key: string, v: unknown, where: string): number[] =>
    v === undefined || v === null ? [] : (Array.isArray(v) ? v : [v]).map((id) => tokenId(key, id, where));

  const configEos = tokenIds('eos_token_id', c.eos_token_id, file);
  let stopIds: number[];
  if (src.generation === null) {
    stopIds = [...configEos, ...QWEN_STOP_IDS.filter((id) => id < vocabSize)];
  } else {
    if (!isRecord(src.generation)) throw new CheckpointError(src.generationFile, 'bad-config', 'the file is not a JSON object');
    stopIds = [...tokenIds('eos_token_id', src.generation.eos_token_id, src.generationFile), ...configEos];
  }
  stopIds = [...new Set(stopIds)];
  if (stopIds.length === 0) throw fail('eos_token_id', `is missing: no stop ids in ${CONFIG_FILE} or ${GENERATION_CONFIG_FILE}`);

  const config: SdarConfig = {
    hiddenSize,
    numLayers: positiveInt('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: positiveInt('intermediate_size'),
    vocabSize,
    maxPositions: positiveInt('max_position_embeddings'),
    ropeTheta: positiveNumber('rope_theta'),
    rmsNormEps: positiveNumber('rms_norm_eps'),
    blockLength: present('block_size') ? positiveInt('block_size') : FALLBACK_BLOCK_LENGTH,
    maskTokenId: tokenId('mask_token_id', present('mask_token_id') ? c.mask_token_id : (tokenizerMaskId ?? FALLBACK_MASK_TOKEN_ID)),
    stopIds,
    // Newer transformers write `dtype`; both are informational only.
    torchDtype: typeof c.torch_dtype === 'string' ? c.torch_dtype : typeof c.dtype === 'string' ? c.dtype : 'unknown',
  };
  checkConfigLimits(config, file);
  return config;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
