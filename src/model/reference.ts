// The oracle twin of graph.ts + session.ts: a naive TypeScript SDAR forward in float64 accumulation
// over fp32 weights, with explicit positions and an explicit mask. Slow on purpose; used only by tests
// (and by decode tests on tiny models, where it is fast enough).
import { CancelledError } from './errors';
import type {
  ForwardInput, ForwardModel, ForwardOptions, ForwardOutput, GraphVariant, KvCache, KvRows, SdarConfig, Tensor,
  TopK, WeightSource,
} from './types';
import { SAMPLING_TOP_K } from './types';
import { HostKvCache } from './kv';
import { ropeTables } from './rope';

interface LayerWeights {
  ln1: Float32Array; ln2: Float32Array; qNorm: Float32Array; kNorm: Float32Array;
  q: Tensor; k: Tensor; v: Tensor; o: Tensor; gate: Tensor; up: Tensor; down: Tensor;
}

export class ReferenceModel implements ForwardModel {
  readonly config: SdarConfig;
  private readonly embed: Tensor;
  private readonly norm: Float32Array;
  private readonly lmHead: Tensor;
  private readonly layers: LayerWeights[];

  constructor(source: WeightSource, readonly variant: GraphVariant = 'greedy') {
    this.config = source.config;
    const read = (name: string) => source.read(name);
    this.embed = read('model.embed_tokens.weight');
    this.norm = read('model.norm.weight').data;
    this.lmHead = read('lm_head.weight');
    this.layers = Array.from({ length: this.config.numLayers }, (_, i) => {
      const p = `model.layers.${i}.`;
      return {
        ln1: read(p + 'input_layernorm.weight').data, ln2: read(p + 'post_attention_layernorm.weight').data,
        qNorm: read(p + 'self_attn.q_norm.weight').data, kNorm: read(p + 'self_attn.k_norm.weight').data,
        q: read(p + 'self_attn.q_proj.weight'), k: read(p + 'self_attn.k_proj.weight'),
        v: read(p + 'self_attn.v_proj.weight'), o: read(p + 'self_attn.o_proj.weight'),
        gate: read(p + 'mlp.gate_proj.weight'), up: read(p + 'mlp.up_proj.weight'), down: read(p + 'mlp.down_proj.weight'),
      };
    });
  }

  async createCache(capacity?: number): Promise<KvCache> {
    return HostKvCache.forConfig(this.config, capacity);
  }

  async forward(input: ForwardInput, kvCache: KvCache, options: ForwardOptions = {}): Promise<ForwardOutput> {
    if (options.signal?.cancelled) throw new CancelledError();
    if (!(kvCache instanceof HostKvCache)) throw new Error('internal: the reference runs on host caches');
    const cache = kvCache;
    const cfg = this.config;
    const L = input.ids.length;
    const H = cfg.hiddenSize;
    const D = cfg.headDim;
    let x = new Float64Array(L * H); // [L, H]
    for (let r = 0; r < L; r++) {
      const id = input.ids[r];
      for (let j = 0; j < H; j++) x[r * H + j] = this.embed.data[id * H + j];
    }
    const rope = { ...ropeTables(cfg, input.positions), half: D / 2 };
    const newKv: KvRows[] = [];
    for (const w of this.layers) {
      const h = rmsNormRows(x, L, H, w.ln1, cfg.rmsNormEps);
      const q = headNormRope(matmul(h, L, w.q), L, cfg.numHeads, D, w.qNorm, cfg.rmsNormEps, rope);
      const k = headNormRope(matmul(h, L, w.k), L, cfg.numKvHeads, D, w.kNorm, cfg.rmsNormEps, rope);
      const v = matmul(h, L, w.v);
      const kv = { key: toHeadMajor(k, L, cfg.numKvHeads, D), value: toHeadMajor(v, L, cfg.numKvHeads, D) };
      newKv.push(kv);
      const y = attention(q, kv, cache, newKv.length - 1, input.windowMask, L, cfg);
      addInPlace(x, matmul(y, L, w.o));
      const h2 = rmsNormRows(x, L, H, w.ln2, cfg.rmsNormEps);
      const gate = matmul(h2, L, w.gate);
      const up = matmul(h2, L, w.up);
      for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
      addInPlace(x, matmul(gate, L, w.down));
    }
    return this.heads(x, input.selectRows, newKv, L, options.temperature ?? 1);
  }

  private heads(x: Float64Array, selectRows: Int32Array, newKv: KvRows[], L: number, temperature: number): ForwardOutput {
    const cfg = this.config;
    const H = cfg.hiddenSize;
    const V = cfg.vocabSize;
    const R = selectRows.length;
    const rows = new Float64Array(R * H);
    selectRows.forEach((row, i) => rows.set(x.subarray(row * H, (row + 1) * H), i * H));
    const logits = matmul(rmsNormRows(rows, R, H, this.norm, cfg.rmsNormEps), R, this.lmHead); // [R, V]
    const tokenIds = new Int32Array(R);
    const tokenProbs = new Float32Array(R);
    const debug = new Float32Array(this.variant === 'debug' ? R * V : 0);
    const topK = this.variant === 'sampling' ? emptyTopK(R, Math.min(SAMPLING_TOP_K, V)) : undefined;
    for (let r = 0; r < R; r++) {
      const row = logits.subarray(r * V, (r + 1) * V);
      row[cfg.maskTokenId] = -Infinity; // the MASK id is never revealed (decoding.md §1.2)
      let best = 0;
      for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
      const lse = logSumExp(row, 1);
      tokenIds[r] = best;
      tokenProbs[r] = Math.exp(row[best] - lse);
      if (debug.length) for (let v = 0; v < V; v++) debug[r * V + v] = row[v];
      if (topK) fillTopK(topK, r, row, temperature);
    }
    return { windowLength: L, tokenIds, tokenProbs, newKv, topK, logits: debug.length ? debug : undefined };
  }
}

interface Rope { cos: Float32Array; sin: Float32Array; half: number } // [L, D/2] each

/** y[L, out] = x[L, in] · Wᵀ with W [out, in]. */
function matmul(x: Float64Array, L: number, w: Tensor): Float64Array {
  const [out, inner] = w.shape;
  const y = new Float64Array(L * out);
  for (let r = 0; r < L; r++) {
    for (let o = 0; o < out; o++) {
      let s = 0;
      const wo = o * inner;
      const xr = r * inner;
      for (let i = 0; i < inner; i++) s += x[xr + i] * w.data[wo + i];
      y[r * out + o] = s;
    }
  }
  return y;
}

function rmsNormRows(x: Float64Array, rows: number, width: number, weight: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < width; j++) ss += x[r * width + j] ** 2;
    const inv = 1 / Math.sqrt(ss / width + eps);
    for (let j = 0; j < width; j++) y[r * width + j] = x[r * width + j] * inv * weight[j];
  }
  return y;
}

/** Per-head RMSNorm (QK-norm) then rotate-half RoPE; input and output [L, heads·D]. */
function headNormRope(x: Float64Array, L: number, heads: number, D: number, w: Float32Array, eps: number, rope: Rope): Float64Array {
  const y = rmsNormRows(x, L * heads, D, w, eps);
  for (let r = 0; r < L; r++) {
    for (let h = 0; h < heads; h++) {
      const base = (r * heads + h) * D;
      for (let i = 0; i < rope.half; i++) {
        const c = rope.cos[r * rope.half + i];
        const s = rope.sin[r * rope.half + i];
        const a = y[base + i];
        const b = y[base + i + rope.half];
        y[base + i] = a * c - b * s;
        y[base + i + rope.half] = b * c + a * s;
      }
    }
  }
  return y;
}

/** [L, heads·D] → Float32Array [heads, L, D] (the cache layout). */
function toHeadMajor(x: Float64Array, L: number, heads: number, D: number): Float32Array {
  const y = new Float32Array(heads * L * D);
  for (let r = 0; r < L; r++) for (let h = 0; h < heads; h++) for (let d = 0; d < D; d++) {
    y[(h * L + r) * D + d] = x[(r * heads + h) * D + d];
  }
  return y;
}

/** Scaled dot-product attention of every query head over cache[0, c) plus the window under its mask. */
function attention(
  q: Float64Array, kv: KvRows, cache: HostKvCache, layer: number, mask: Uint8Array, L: number, cfg: SdarConfig,
): Float64Array {
  const { numHeads: Hq, numKvHeads: Hkv, headDim: D } = cfg;
  const group = Hq / Hkv;
  const c = cache.length;
  const cap = cache.capacity;
  const past = cache.layers[layer];
  const scale = 1 / Math.sqrt(D);
  const y = new Float64Array(L * Hq * D);
  const scores = new Float64Array(c + L);
  for (let h = 0; h < Hq; h++) {
    const g = Math.floor(h / group);
    for (let r = 0; r < L; r++) {
      const qo = (r * Hq + h) * D;
      let max = -Infinity;
      for (let j = 0; j < c + L; j++) {
        const visible = j < c || mask[r * L + (j - c)] === 1;
        if (!visible) { scores[j] = -Infinity; continue; }
        const keys = j < c ? past.key : kv.key;
        const ko = j < c ? (g * cap + j) * D : (g * L + (j - c)) * D;
        let s = 0;
        for (let d = 0; d < D; d++) s += q[qo + d] * keys[ko + d];
        scores[j] = s * scale;
        if (scores[j] > max) max = scores[j];
      }
      if (max === -Infinity) throw new Error(`attention row ${r} sees no column`);
      let sum = 0;
      for (let j = 0; j < c + L; j++) { scores[j] = Math.exp(scores[j] - max); sum += scores[j]; }
      for (let j = 0; j < c + L; j++) {
        const p = scores[j] / sum;
        if (p === 0) continue;
        const values = j < c ? past.value : kv.value;
        const vo = j < c ? (g * cap + j) * D : (g * L + (j - c)) * D;
        for (let d = 0; d < D; d++) y[qo + d] += p * values[vo + d];
      }
    }
  }
  return y;
}

function addInPlace(x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

function logSumExp(row: Float64Array, temperature: number): number {
  let max = -Infinity;
  for (const v of row) if (v / temperature > max) max = v / temperature;
  let sum = 0;
  for (const v of row) sum += Math.exp(v / temperature - max);
  return max + Math.log(sum);
}

function emptyTopK(R: number, k: number): TopK {
  return { k, ids: new Int32Array(R * k), logits: new Float32Array(R * k), logSumExp: new Float32Array(R) };
}

/** Top-k by logit, ties to the lower id (ONNX TopK's documented tie rule). */
function fillTopK(topK: TopK, r: number, row: Float64Array, temperature: number): void {
  const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, topK.k);
  order.forEach((id, i) => {
    topK.ids[r * topK.k + i] = id;
    topK.logits[r * topK.k + i] = row[id];
  });
  topK.logSumExp[r] = logSumExp(row, temperature);
}
