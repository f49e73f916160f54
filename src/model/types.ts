// Plain records shared by the model layer and its callers (decode, cache, engine, cli).
// Vocabulary: see README.md §2 (block, canvas, commit, select rows, capacity…).
import type { Tensor as OrtTensor } from 'onnxruntime-node';

/** A validated SDAR config.json (+ generation_config.json stop ids). */
export interface SdarConfig {
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;            // query heads Hq
  readonly numKvHeads: number;          // Hkv; Hq % Hkv == 0
  readonly headDim: number;             // D
  readonly intermediateSize: number;
  readonly vocabSize: number;
  readonly maxPositions: number;        // max_position_embeddings
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  readonly blockLength: number;         // config.json block_size (bl), fallback 4
  readonly maskTokenId: number;         // config.json mask_token_id, fallback: tokenizer mask id or 151669
  readonly stopIds: readonly number[];  // generation_config.json eos_token_id (+ config eos), deduplicated
  readonly torchDtype: string;          // informational, e.g. "bfloat16"
}

/** A dense fp32 tensor (row-major). */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Where weights come from: a checkpoint on disk, or an in-memory random model in tests. */
export interface WeightSource {
  readonly config: SdarConfig;
  /** Tensor names present (HF names, e.g. `model.layers.0.self_attn.q_proj.weight`). */
  names(): readonly string[];
  /** Reads one tensor converted to fp32. Throws a CheckpointError when absent or malformed. */
  read(name: string): Tensor;
  /**
   * Optional streaming access (a checkpoint on disk has it): the shape, and rows of the first dimension read on
   * demand, so that the converter never holds a whole tensor. Must agree with read(). Sources without it are read
   * whole.
   */
  rows?(name: string): TensorRows;
}

/** One tensor read by rows: `read(start, count, into?)` gives rows [start, start + count) as fp32 (into `into` when it is long enough). */
export interface TensorRows {
  readonly shape: readonly number[];
  read(start: number, count: number, into?: Float32Array): Float32Array;
}

/** One forward pass request. Every row sees the committed cache `[0, cache.length)`. */
export interface ForwardInput {
  readonly ids: Int32Array;          // [L]
  readonly positions: Int32Array;    // [L], absolute; duplicates allowed (RoPE copy)
  readonly windowMask: Uint8Array;   // [L, L], row = query, column = key; 1 = may attend
  readonly selectRows: Int32Array;   // [R], R ≥ 1: rows whose prediction is returned
}

/** Per layer: the window's new post-RoPE keys and values, each [Hkv, L, D]. */
export interface KvRows {
  readonly key: Float32Array;
  readonly value: Float32Array;
}

/** Top-k candidates for sampling (graph variant `sampling`). */
export interface TopK {
  readonly k: number;
  readonly ids: Int32Array;          // [R, k]
  readonly logits: Float32Array;     // [R, k], raw logits (not divided by T)
  readonly logSumExp: Float32Array;  // [R], logsumexp(logits / T) over the whole vocabulary (MASK banned)
}

export interface ForwardOutput {
  readonly windowLength: number;     // L
  readonly tokenIds: Int32Array;     // [R] argmax over the vocabulary with the MASK id banned
  readonly tokenProbs: Float32Array; // [R] softmax probability of tokenIds (T = 1)
  /** The window's new K/V: on the host ([numLayers] arrays) when the cache fed was a host cache, else on the device. */
  readonly newKv: readonly KvRows[] | DeviceKv;
  readonly topK?: TopK;              // sampling variant only
  readonly logits?: Float32Array;    // [R, V] debug variant only (MASK id set to -Infinity)
}

export type GraphVariant = 'greedy' | 'sampling' | 'debug';

/** A graph's float type for activations and K/V: fp32 (CPU, exact) or fp16 (WebGPU; norms, softmax and logits stay fp32). */
export type Precision = 'fp32' | 'fp16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16'];

/** Options of one forward beyond the window itself. */
export interface ForwardOptions {
  readonly temperature?: number;     // sampling variant: T > 0
  readonly signal?: CancelFlag;      // checked before the run
}

/** A cancellation flag checked before every forward (cancel → idle takes at most one forward). */
export interface CancelFlag {
  readonly cancelled: boolean;
}

/** Anything that runs SDAR forwards over a KV cache: the ONNX session or the reference twin. */
export interface ForwardModel {
  readonly config: SdarConfig;
  readonly variant: GraphVariant;
  /** An empty cache of the kind this model's forwards take (host buffers, or tensors on its device). */
  createCache(capacity?: number): Promise<KvCache>;
  forward(input: ForwardInput, cache: KvCache, options?: ForwardOptions): Promise<ForwardOutput>;
}

/**
 * The K/V of committed positions, per model (docs/models.md §7): on the host (`HostKvCache`, JS buffers fed zero-copy)
 * or on the WebGPU device (`DeviceKvCache`, never copied to the host). Slots ≥ length hold finite stale values and are
 * masked; capacity grows in buckets of 256.
 */
/** Where a KV cache lives: JS buffers fed zero-copy (`host`), or tensors kept on the GPU (`device`). */
export type KvLocation = 'host' | 'device';

export interface KvCache {
  readonly location: KvLocation;
  readonly length: number;           // c: committed positions
  readonly capacity: number;         // slots per buffer; slots ≥ length are masked
  /** Memory held (host RAM or device memory), K and V of all layers: what the prefix-cache budget counts. */
  readonly bytes: number;
  /** Commit: the chosen window rows of `out` (a forward over this cache) go to slots [length, length + rows.length). */
  commit(out: ForwardOutput, rows: readonly number[]): Promise<void>;
  /** Forgets everything from `length` on (prefix invalidation, draft rollback). */
  truncate(length: number): void;
  /** Frees what it holds (device memory); the cache must not be used afterwards. */
  dispose(): void;
}

/** A forward's new K/V left on the device: one tensor per layer for K and for V (`[1, Hkv, L, D]`), `gpu-buffer` located. */
export interface DeviceKv {
  readonly location: 'device';
  readonly keys: readonly OrtTensor[];
  readonly values: readonly OrtTensor[];
}

/** Candidates returned per select row by the `sampling` variant (decoding.md §6: exact for top_k ≤ 64). */
export const SAMPLING_TOP_K = 64;
