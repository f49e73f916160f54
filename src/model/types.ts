// Plain records shared by the model layer and its callers (decode, cache, engine, cli).
// Vocabulary: see README.md §2 (block, canvas, commit, select rows, capacity…).

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
  readonly newKv: readonly KvRows[]; // [numLayers]
  readonly topK?: TopK;              // sampling variant only
  readonly logits?: Float32Array;    // [R, V] debug variant only (MASK id set to -Infinity)
}

export type GraphVariant = 'greedy' | 'sampling' | 'debug';

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
  forward(input: ForwardInput, cache: KvCacheView, options?: ForwardOptions): Promise<ForwardOutput>;
}

/** Read access to a KV cache, as a forward needs it. */
export interface KvCacheView {
  readonly length: number;           // c: committed positions
  readonly capacity: number;         // slots per buffer (buckets of 256); slots ≥ length are masked
  readonly layers: readonly KvRows[]; // per layer: key, value, each [Hkv, capacity, D]
}

/** Candidates returned per select row by the `sampling` variant (decoding.md §6: exact for top_k ≤ 64). */
export const SAMPLING_TOP_K = 64;
