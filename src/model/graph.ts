// The SDAR forward as an ONNX graph (models.md §6): split plain-op attention over an explicit
// mask, GQA folded into rows, RoPE from explicit (possibly duplicated) positions, heads only on select rows.
// Variants differ only in their heads: greedy (ids + probs), sampling (+ top-k and lse at T), debug (+ logits).
import { DT, GraphBuilder, MS_DOMAIN } from './onnx-builder';
import { ropeTables } from './rope';
import { SAMPLING_TOP_K, type GraphVariant, type Precision, type SdarConfig } from './types';

/** A linear layer as the graph uses it: dense fp32 [in, out] or 4-bit MatMulNBits blocks. */
export type LinearWeight =
  | { readonly kind: 'dense'; readonly name: string }
  | { readonly kind: 'nbits'; readonly weight: string; readonly scales: string; readonly zeroPoints: string;
      readonly n: number; readonly k: number; readonly groupSize: number };

/** Supplies initializers for checkpoint tensors; the converter writes their bytes to model.data. */
export interface WeightEmitter {
  linear(b: GraphBuilder, name: string): LinearWeight;
  /** Dense fp32 tensor in its checkpoint shape (norm weights). */
  dense(b: GraphBuilder, name: string): string;
  /** The embedding table, fp32 or fp16 (`isF16`: the graph casts the gathered rows). */
  embedding(b: GraphBuilder, name: string): { name: string; isF16: boolean };
  /** A computed fp32 constant (RoPE tables, the ban bias); `data` is called only the first time `name` is asked for. */
  computed(b: GraphBuilder, name: string, dims: readonly number[], data: () => Float32Array): string;
}

export interface GraphOptions {
  readonly variant: GraphVariant;
  readonly accuracyLevel: number;   // MatMulNBits: 4 on CPU (int8 activations), 0 for exact parity
  readonly bannedIds: readonly number[]; // never chosen: the MASK id plus manifest extras
  /**
   * fp32, or fp16 for WebGPU: activations, weights and K/V in fp16, with the RMS norms, the attention scores and
   * softmax, and the logits in fp32 (Casts around them), so the sums that need the range never run in fp16.
   */
  readonly precision?: Precision;
}

export const GRAPH_INPUTS = { ids: 'input_ids', positions: 'position_ids', mask: 'attn_mask', select: 'select_rows', temperature: 'temperature' } as const;
export const pastKey = (i: number) => `past_key_${i}`;
export const pastValue = (i: number) => `past_value_${i}`;
export const newKey = (i: number) => `new_key_${i}`;
export const newValue = (i: number) => `new_value_${i}`;

/** Every output of a variant's graph, in order (a session names them all when it keeps K/V on the device). */
export function graphOutputs(config: SdarConfig, variant: GraphVariant): string[] {
  const heads = variant === 'sampling' ? ['topk_ids', 'topk_logits', 'lse'] : variant === 'debug' ? ['logits'] : [];
  const kv = Array.from({ length: config.numLayers }, (_, i) => [newKey(i), newValue(i)]).flat();
  return ['token_ids', 'token_probs', ...heads, ...kv];
}

export function buildGraph(config: SdarConfig, weights: WeightEmitter, opts: GraphOptions): Uint8Array {
  const b = new GraphBuilder();
  const { numHeads: Hq, numKvHeads: Hkv, headDim: D } = config;
  const G = Hq / Hkv;
  const half = opts.precision === 'fp16';
  const F = half ? DT.FLOAT16 : DT.FLOAT;  // activations and K/V
  const ids = b.input(GRAPH_INPUTS.ids, DT.INT64, [1, 'L']);
  const positions = b.input(GRAPH_INPUTS.positions, DT.INT64, [1, 'L']);
  const mask = b.input(GRAPH_INPUTS.mask, DT.BOOL, ['L', 'CL']);
  const select = b.input(GRAPH_INPUTS.select, DT.INT64, ['R']);
  for (let i = 0; i < config.numLayers; i++) {
    b.input(pastKey(i), F, [1, Hkv, 'C', D]);
    b.input(pastValue(i), F, [1, Hkv, 'C', D]);
  }
  const cast = (x: string, to: number) => b.op1('Cast', [x], { to });
  // RMS norm over fp32 values with its fp32 weight; in an fp16 graph the input is widened and the result narrowed.
  const norm = (x: string, weight: string) => {
    const sln = (v: string) => b.op1('SimplifiedLayerNormalization', [v, weights.dense(b, weight)], { axis: -1, epsilon: { float: config.rmsNormEps } });
    return half ? cast(sln(cast(x, DT.FLOAT)), DT.FLOAT16) : sln(x);
  };

  // Shared per forward: additive mask bias tiled over the G query heads folded into rows, and split sizes [C, L].
  const bias = b.op1('Where', [mask, b.constFloat('zero', [0], []), b.constFloat('neg', [-1e9], [])]);
  const rowBias = b.op1('Tile', [bias, b.constInt64('tile_g', [G, 1])]); // [G·L, C+L]: row j·L + r ← mask row r
  const capacity = b.op1('Gather', [b.op1('Shape', [pastKey(0)]), b.constInt64('axis2', [2])], { axis: 0 });
  const windowLength = b.op1('Gather', [b.op1('Shape', [ids]), b.constInt64('axis1', [1])], { axis: 0 });
  const splitSizes = b.op1('Concat', [capacity, windowLength], { axis: 0 });
  const ropeTables = rope(b, weights, config, half);
  const shape = (name: string, dims: number[]) => b.constInt64(name, dims);
  const qShape = shape('q_shape', [1, -1, Hq, D]);
  const kvShape = shape('kv_shape', [1, -1, Hkv, D]);
  const groupShape = shape('group_shape', [1, Hkv, -1, D]);
  const headsShape = shape('heads_shape', [1, Hq, -1, D]);
  const hiddenShape = shape('hidden_shape', [1, -1, Hq * D]);
  const scale = b.constFloat('scale', [1 / Math.sqrt(D)], []);
  const scale16 = half ? cast(scale, DT.FLOAT16) : scale;

  const emb = weights.embedding(b, 'model.embed_tokens.weight');
  let x = b.op1('Gather', [emb.name, ids], { axis: 0 }); // [1, L, H]
  if (emb.isF16 !== half) x = cast(x, F);

  const linear = (input: string, name: string) => applyLinear(b, input, weights.linear(b, name), opts.accuracyLevel);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const h = norm(x, p + 'input_layernorm.weight');
    const headsOf = (proj: string, normName: string, reshape: string, out?: string) => {
      const r = b.op1('Reshape', [linear(h, p + `self_attn.${proj}.weight`), reshape]);            // [1, L, heads, D]
      const n = norm(r, p + `self_attn.${normName}.weight`);
      const t = b.op1('Transpose', [n], { perm: [0, 2, 1, 3] });                                   // [1, heads, L, D]
      return b.op('RotaryEmbedding', [t, positions, ropeTables.cos, ropeTables.sin], { interleaved: 0 },
        { domain: MS_DOMAIN, outputs: out ? [out] : 1 })[0];
    };
    const q = headsOf('q_proj', 'q_norm', qShape);
    const k = headsOf('k_proj', 'k_norm', kvShape, newKey(i));
    const v = b.op('Transpose', [b.op1('Reshape', [linear(h, p + 'self_attn.v_proj.weight'), kvShape])], { perm: [0, 2, 1, 3] },
      { outputs: [newValue(i)] })[0];                                                              // [1, Hkv, L, D]

    // Split attention: scores against the cache and the window, one softmax over both, then two value products.
    // fp16: q is scaled before the products (scores 1/√D smaller, far from fp16's limit), then scores go to fp32.
    const qg0 = b.op1('Reshape', [q, groupShape]);                                                 // [1, Hkv, G·L, D]
    const qg = half ? b.op1('Mul', [qg0, scale16]) : qg0;
    const sPast = b.op1('MatMul', [qg, b.op1('Transpose', [pastKey(i)], { perm: [0, 1, 3, 2] })]);
    const sNew = b.op1('MatMul', [qg, b.op1('Transpose', [k], { perm: [0, 1, 3, 2] })]);
    const scores = b.op1('Concat', [sPast, sNew], { axis: -1 });
    const s = b.op1('Add', [half ? cast(scores, DT.FLOAT) : b.op1('Mul', [scores, scale]), rowBias]);
    const probs = b.op1('Softmax', [s], { axis: -1 });
    const [pPast, pNew] = b.op('Split', [half ? cast(probs, DT.FLOAT16) : probs, splitSizes], { axis: -1 }, { outputs: 2 });
    const y = b.op1('Add', [b.op1('MatMul', [pPast, pastValue(i)]), b.op1('MatMul', [pNew, v])]); // [1, Hkv, G·L, D]
    const yh = b.op1('Transpose', [b.op1('Reshape', [y, headsShape])], { perm: [0, 2, 1, 3] });   // [1, L, Hq, D]
    x = b.op1('Add', [x, linear(b.op1('Reshape', [yh, hiddenShape]), p + 'self_attn.o_proj.weight')]);

    const h2 = norm(x, p + 'post_attention_layernorm.weight');
    const gate = linear(h2, p + 'mlp.gate_proj.weight');
    const act = b.op1('Mul', [b.op1('Mul', [gate, b.op1('Sigmoid', [gate])]), linear(h2, p + 'mlp.up_proj.weight')]);
    x = b.op1('Add', [x, linear(act, p + 'mlp.down_proj.weight')]);
  }
  heads(b, config, weights, opts, x, select, norm);
  for (let i = 0; i < config.numLayers; i++) {
    b.output(newKey(i), F, [1, Hkv, 'L', D]);
    b.output(newValue(i), F, [1, Hkv, 'L', D]);
  }
  return b.encode('sdar', `SDAR forward, variant ${opts.variant}`);
}

function applyLinear(b: GraphBuilder, input: string, w: LinearWeight, accuracyLevel: number): string {
  if (w.kind === 'dense') return b.op1('MatMul', [input, w.name]);
  return b.op1('MatMulNBits', [input, w.weight, w.scales, w.zeroPoints],
    { K: w.k, N: w.n, bits: 4, block_size: w.groupSize, accuracy_level: accuracyLevel }, MS_DOMAIN);
}

/**
 * cos/sin caches [maxPositions, D/2], fp32 as HF computes them (the same function the reference uses); an fp16 graph
 * casts them once (RotaryEmbedding wants them in the input's type; onnxruntime folds the Cast at load).
 */
function rope(b: GraphBuilder, weights: WeightEmitter, config: SdarConfig, half: boolean): { cos: string; sin: string } {
  let tables: { cos: Float32Array; sin: Float32Array } | undefined;
  const table = () => (tables ??= ropeTables(config, Array.from({ length: config.maxPositions }, (_, p) => p)));
  const dims = [config.maxPositions, config.headDim / 2];
  const cos = weights.computed(b, 'rope_cos', dims, () => table().cos);
  const sin = weights.computed(b, 'rope_sin', dims, () => table().sin);
  if (!half) return { cos, sin };
  return { cos: b.op1('Cast', [cos], { to: DT.FLOAT16 }), sin: b.op1('Cast', [sin], { to: DT.FLOAT16 }) };
}

/** Gather the select rows before the final norm and lm_head, then reduce to id + probability (+ variant heads). */
function heads(
  b: GraphBuilder, config: SdarConfig, weights: WeightEmitter, opts: GraphOptions, x: string, select: string,
  norm: (x: string, weight: string) => string,
): void {
  const V = config.vocabSize;
  const rows = b.op1('Gather', [x, select], { axis: 1 });                                          // [1, R, H]
  const normed = norm(rows, 'model.norm.weight');
  const banBias = () => {
    const bias = new Float32Array(V);
    for (const id of opts.bannedIds) bias[id] = -Infinity;
    return bias;
  };
  const lmHead = applyLinear(b, normed, weights.linear(b, 'lm_head.weight'), opts.accuracyLevel);
  const logits = b.op1('Add', [opts.precision === 'fp16' ? b.op1('Cast', [lmHead], { to: DT.FLOAT }) : lmHead,
    weights.computed(b, 'ban_bias', [V], banBias)]);                                               // [1, R, V], fp32
  const flat = b.constInt64('flat', [-1]);
  const lastAxis = b.constInt64('last_axis', [-1]);
  const ids = b.op1('ArgMax', [logits], { axis: -1, keepdims: 0 });
  b.op('Reshape', [ids, flat], {}, { outputs: ['token_ids'] });
  const max = b.op1('ReduceMax', [logits, lastAxis], { keepdims: 0 });
  const lse = b.op1('ReduceLogSumExp', [logits, lastAxis], { keepdims: 0 });
  b.op('Reshape', [b.op1('Exp', [b.op1('Sub', [max, lse])]), flat], {}, { outputs: ['token_probs'] });
  b.output('token_ids', DT.INT64, ['R']);
  b.output('token_probs', DT.FLOAT, ['R']);
  if (opts.variant === 'sampling') {
    const t = b.input(GRAPH_INPUTS.temperature, DT.FLOAT, [1]);
    const k = Math.min(SAMPLING_TOP_K, V);
    const lseT = b.op1('ReduceLogSumExp', [b.op1('Div', [logits, t]), lastAxis], { keepdims: 0 });
    const [values, indices] = b.op('TopK', [logits, b.constInt64('top_k', [k])], { axis: -1, largest: 1, sorted: 1 }, { outputs: 2 });
    const rk = b.constInt64('rk_shape', [-1, k]);
    b.op('Reshape', [indices, rk], {}, { outputs: ['topk_ids'] });
    b.op('Reshape', [values, rk], {}, { outputs: ['topk_logits'] });
    b.op('Reshape', [lseT, flat], {}, { outputs: ['lse'] });
    b.output('topk_ids', DT.INT64, ['R', k]);
    b.output('topk_logits', DT.FLOAT, ['R', k]);
    b.output('lse', DT.FLOAT, ['R']);
  }
  if (opts.variant === 'debug') {
    b.op('Reshape', [logits, b.constInt64('rv_shape', [-1, V])], {}, { outputs: ['logits'] });
    b.output('logits', DT.FLOAT, ['R', V]);
  }
}
