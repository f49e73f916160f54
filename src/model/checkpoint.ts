// A checkpoint folder: config, single-file or sharded safetensors, and the checks that make it safe to load.
// Everything is validated at open time from the headers alone (cheap: no tensor data is read), so a bad
// download fails before a conversion starts, with a CheckpointError naming the file and the tensor.
import { closeSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CONFIG_FILE, isRecord, readConfig } from './config';
import { CheckpointError } from './errors';
import { type Dtype, isCount, numElements, readHeader, readTensor, readTensorRows, type TensorEntry } from './safetensors';
import { loadTokenizer, TOKENIZER_FILE, type SdarTokenizer } from './tokenizer';
import type { SdarConfig, Tensor, TensorRows, WeightSource } from './types';
import { MAX_BYTES, openRegularFile, readJsonFile } from './user-file';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** Every tensor of a single-file or sharded checkpoint, each name exactly once. */
export interface TensorTable {
  readonly files: readonly string[];                  // safetensors paths, shards in name order
  readonly indexFile: string | null;                  // the index when sharded
  readonly tensors: ReadonlyMap<string, TensorEntry>;
}

export interface ExpectedTensor {
  readonly name: string;
  readonly shape: readonly number[];                  // [out, in] for matrices (models.md §2.3)
}

/** An open checkpoint. Holds one file descriptor per shard once read; call close() when done. */
export interface Checkpoint extends WeightSource {
  readonly dir: string;
  readonly table: TensorTable;
  close(): void;
}

export interface OpenOptions {
  /**
   * The checkpoint's tokenizer: its mask id is the fallback when config.json has no mask_token_id, and its ids must
   * fit the model's vocabulary (an id ≥ vocab_size would index past the embedding table).
   */
  readonly tokenizer?: Pick<SdarTokenizer, 'vocabSize' | 'special'>;
}

/** The 11 per-layer Qwen3 tensors, plus embed, final norm and the untied lm_head: 11·layers + 3. */
export function expectedTensors(config: SdarConfig): readonly ExpectedTensor[] {
  const { hiddenSize: h, numHeads, numKvHeads, headDim: d, intermediateSize: inter, vocabSize: v } = config;
  const layers = Array.from({ length: config.numLayers }, (_, i): ExpectedTensor[] => {
    const p = `model.layers.${i}`;
    return [
      { name: `${p}.input_layernorm.weight`, shape: [h] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [numHeads * d, h] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [numKvHeads * d, h] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [numKvHeads * d, h] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [h, numHeads * d] },
      { name: `${p}.self_attn.q_norm.weight`, shape: [d] },
      { name: `${p}.self_attn.k_norm.weight`, shape: [d] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [inter, h] },
      { name: `${p}.mlp.up_proj.weight`, shape: [inter, h] },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, inter] },
    ];
  });
  return [
    { name: 'model.embed_tokens.weight', shape: [v, h] },
    ...layers.flat(),
    { name: 'model.norm.weight', shape: [h] },
    { name: 'lm_head.weight', shape: [v, h] },
  ];
}

/** Checks that every expected tensor is present with its shape. Extra tensors are allowed and ignored. */
export function validateCheckpoint(config: SdarConfig, table: TensorTable): void {
  for (const { name, shape } of expectedTensors(config)) {
    const entry = table.tensors.get(name);
    if (entry === undefined) {
      throw new CheckpointError(table.indexFile ?? table.files[0], 'missing-tensor', `tensor ${name} is missing`);
    }
    if (entry.shape.length !== shape.length || entry.shape.some((n, i) => n !== shape[i])) {
      throw new CheckpointError(entry.file, 'wrong-shape', `tensor ${name} has shape ${JSON.stringify(entry.shape)} but ${CONFIG_FILE} implies ${JSON.stringify(shape)}`);
    }
  }
}

/** Opens and validates `dir` (config, headers, shapes). Tensor data is read on demand by read(). */
export function openCheckpoint(dir: string, options: OpenOptions = {}): Checkpoint {
  const config = readConfig(dir, options.tokenizer?.special.mask ?? undefined);
  if (options.tokenizer && options.tokenizer.vocabSize > config.vocabSize) {
    throw new CheckpointError(join(dir, TOKENIZER_FILE), 'bad-tokenizer', `has token ids up to ${options.tokenizer.vocabSize - 1}, but ${CONFIG_FILE} says vocab_size ${config.vocabSize}: the tokenizer does not belong to this model`);
  }
  const table = readTensorTable(dir);
  validateCheckpoint(config, table);
  const fds = new Map<string, number>();
  let closed = false;
  const open = (name: string): { entry: TensorEntry; fd: number } => {
    if (closed) throw new Error(`checkpoint ${dir} is closed`);
    const entry = table.tensors.get(name);
    if (entry === undefined) throw new CheckpointError(table.indexFile ?? table.files[0], 'missing-tensor', `tensor ${name} is missing`);
    let fd = fds.get(entry.file);
    if (fd === undefined) {
      fd = openRegularFile(entry.file, 'bad-header').fd;
      fds.set(entry.file, fd);
    }
    return { entry, fd };
  };
  return {
    dir,
    config,
    table,
    names: () => [...table.tensors.keys()],
    read(name: string): Tensor {
      const { entry, fd } = open(name);
      return { shape: entry.shape, data: readTensor(fd, entry) };
    },
    rows(name: string): TensorRows {
      const { entry } = open(name);
      return { shape: entry.shape, read: (start, count, into) => readTensorRows(open(name).fd, entry, start, count, into) };
    },
    close() {
      closed = true;
      for (const fd of fds.values()) closeSync(fd);
      fds.clear();
    },
  };
}

/**
 * Locates every tensor of the checkpoint in `dir`: `model.safetensors.index.json` with its shards when present,
 * else `model.safetensors`. For a sharded checkpoint, checks that each tensor lives in exactly one shard, that the
 * index names the shard that holds it, and that `total_size` equals the sum of the tensor bytes.
 */
export function readTensorTable(dir: string): TensorTable {
  const indexFile = join(dir, INDEX_FILE);
  if (!existsSync(indexFile)) {
    const single = join(dir, SINGLE_FILE);
    if (!existsSync(single)) throw new CheckpointError(single, 'missing-file', `no weights: neither ${SINGLE_FILE} nor ${INDEX_FILE} is in ${dir}`);
    const header = readHeader(single);
    return { files: [single], indexFile: null, tensors: new Map(header.tensors.map((t) => [t.name, t])) };
  }
  const { totalSize, weightMap } = parseIndex(indexFile);
  const shardNames = [...new Set(weightMap.values())].sort(); // model-0000N-of-0000M: name order is shard order
  const tensors = new Map<string, TensorEntry>();
  for (const shard of shardNames) {
    const path = join(dir, shard);
    if (!existsSync(path)) throw new CheckpointError(path, 'missing-file', `shard ${shard} named by ${INDEX_FILE} is missing`);
    for (const t of readHeader(path).tensors) {
      const other = tensors.get(t.name);
      if (other !== undefined) throw new CheckpointError(indexFile, 'bad-index', `tensor ${t.name} is in both ${basename(other.file)} and ${shard}`);
      if (weightMap.get(t.name) !== shard) throw new CheckpointError(indexFile, 'bad-index', `tensor ${t.name} is in ${shard} but the index maps it to ${weightMap.get(t.name) ?? 'nothing'}`);
      tensors.set(t.name, t);
    }
  }
  for (const [name, shard] of weightMap) {
    if (!tensors.has(name)) throw new CheckpointError(join(dir, shard), 'missing-tensor', `tensor ${name} is mapped to ${shard} by ${INDEX_FILE} but the shard lacks it`);
  }
  const bytes = [...tensors.values()].reduce((sum, t) => sum + t.byteLength, 0);
  if (bytes !== totalSize) throw new CheckpointError(indexFile, 'bad-index', `metadata.total_size is ${totalSize} but the shards hold ${bytes} tensor bytes`);
  return { files: shardNames.map((s) => join(dir, s)), indexFile, tensors };
}

function parseIndex(indexFile: string): { totalSize: number; weightMap: ReadonlyMap<string, string> } {
  const json = readJsonFile(indexFile, MAX_BYTES.index, 'bad-index');
  const bad = (what: string) => new CheckpointError(indexFile, 'bad-index', what);
  if (!isRecord(json) || !isRecord(json.weight_map)) throw bad('weight_map is missing or not an object');
  const totalSize = isRecord(json.metadata) ? json.metadata.total_size : undefined;
  if (!isCount(totalSize)) throw bad('metadata.total_size is missing or not a non-negative integer');
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(json.weight_map)) {
    // A shard name is a plain file name next to the index: no paths, so the index cannot point elsewhere.
    if (typeof shard !== 'string' || shard !== basename(shard) || !shard.endsWith('.safetensors')) throw bad(`weight_map.${name} is not a .safetensors file name`);
    weightMap.set(name, shard);
  }
  return { totalSize, weightMap };
}

/** What `simsd inspect` prints: the config, the weights at a glance, and the tokenizer's ids. */
export interface CheckpointSummary extends SdarConfig {
  readonly dir: string;
  readonly architecture: string;                      // config.json architectures[0], e.g. SDARForCausalLM
  readonly params: number;                            // parameters of all tensors, from their shapes
  readonly dtypes: Readonly<Partial<Record<Dtype, number>>>; // tensors per dtype
  readonly weightBytes: number;
  readonly shards: readonly string[];                 // safetensors file names
  readonly tokenizer: {
    readonly vocabSize: number;                       // tokens incl. added ones (≤ config vocab, which may be padded)
    readonly fim: boolean;
    readonly specialIds: Readonly<Record<string, number | null>>;
  };
}

/** Loads tokenizer, config and headers of `dir` (validating all of them) and summarises them. */
export function describeCheckpoint(dir: string): CheckpointSummary {
  const tokenizer = loadTokenizer(dir);
  const checkpoint = openCheckpoint(dir, { tokenizer });
  checkpoint.close(); // headers only: nothing was read
  const raw = readJsonFile(join(dir, CONFIG_FILE), MAX_BYTES.config, 'bad-config');
  const architectures = isRecord(raw) && Array.isArray(raw.architectures) ? raw.architectures : [];
  const entries = [...checkpoint.table.tensors.values()];
  const dtypes: Partial<Record<Dtype, number>> = {};
  for (const t of entries) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  const { fim } = tokenizer;
  return {
    dir,
    architecture: String(architectures[0] ?? 'unknown'),
    ...checkpoint.config,
    params: entries.reduce((sum, t) => sum + numElements(t.shape), 0),
    dtypes,
    weightBytes: entries.reduce((sum, t) => sum + t.byteLength, 0),
    shards: checkpoint.table.files.map((f) => basename(f)),
    tokenizer: {
      vocabSize: tokenizer.vocabSize,
      fim: fim !== null,
      specialIds: { ...tokenizer.special, ...(fim === null ? {} : { fimPrefix: fim.prefix, fimSuffix: fim.suffix, fimMiddle: fim.middle }) },
    },
  };
}
