// Helpers for the decode tests: tiny random-weight draft/target pairs, prompts, a model FACTORY (so the same
// parity suites run on ReferenceModel now and on ModelSession later), a naive full-recompute twin of native
// decoding, and the first-divergence report of decoding.md §9.1 T5 (block, step, position, top-2 margin).
import { HostKvCache } from '../src/model/kv';
import { ReferenceModel } from '../src/model/reference';
import type { ForwardModel, GraphVariant, SdarConfig, Tensor, WeightSource } from '../src/model/types';
import { generate, withCaches, type GenerateRequest, type Generation, type ModelPair } from '../src/decode/generate';
import { ModelSession } from '../src/model/session';
import type { KvCache, KvRows } from '../src/model/types';
import { fixtureConfig, makeRandomWeights, type FixtureOptions } from './fixtures/tiny-checkpoint';
import { hashKey, mulberry32 } from './fixtures/prng';

/** Builds a ForwardModel of a graph variant from weights: ReferenceModel now, ModelSession later. */
export type ModelFactory = (weights: WeightSource, variant: GraphVariant) => Promise<ForwardModel>;

export const referenceFactory: ModelFactory = async (weights, variant) => new ReferenceModel(weights, variant);

/** Target: hidden 64, 2 layers, GQA 2:1. Draft: hidden 64, 1 layer, 1 kv head. Vocabulary 512, bl 4. */
export const TARGET_SHAPE: FixtureOptions = { hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 128 };
export const DRAFT_SHAPE: FixtureOptions = { hiddenSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 16, intermediateSize: 96 };
/** A smaller, unrelated draft (different width and seed): it rarely agrees with the target. */
export const NARROW_DRAFT_SHAPE: FixtureOptions = { hiddenSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 16, intermediateSize: 64 };

const SHARED = new Set(['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight']);

/**
 * A draft of its own size and seed whose embedding, final norm and lm_head are the target's (same hidden size).
 * Random models predict mostly from those tensors, so this draft agrees with the target often but not always:
 * the partial-accept paths get exercised. Not a weights generator: it only routes reads to two sources.
 */
export function sharedHeadDraft(target: WeightSource, draft: WeightSource): WeightSource {
  if (target.config.hiddenSize !== draft.config.hiddenSize) throw new Error('sharedHeadDraft needs equal hidden sizes');
  return { config: draft.config, names: () => draft.names(), read: (name) => (SHARED.has(name) ? target : draft).read(name) };
}

export interface PairWeights {
  readonly target: WeightSource;
  readonly draft: WeightSource;
}

/**
 * A draft made of the target's first `layers` layers (plus its embedding, final norm and lm_head): a smaller
 * model that agrees with the target often but not always, so the partial-accept paths get exercised.
 */
export function truncatedDraft(target: WeightSource, layers: number): WeightSource {
  const config = { ...target.config, numLayers: layers };
  const keep = (name: string) => { const m = /^model\.layers\.(\d+)\./.exec(name); return m === null || Number(m[1]) < layers; };
  return { config, names: () => target.names().filter(keep), read: (name) => target.read(name) };
}

/**
 * The target with every weight scaled by (1 + ε·u), u uniform in [−1, 1) per element (a seeded stream per
 * tensor): a draft of the same size that agrees with the target on most tokens but not all.
 */
export function perturbedDraft(target: WeightSource, epsilon: number, seed: number): WeightSource {
  return {
    config: target.config,
    names: () => target.names(),
    read(name) {
      const t = target.read(name);
      const random = mulberry32(hashKey(`${seed}/${name}`));
      return { shape: t.shape, data: t.data.map((v) => v * (1 + epsilon * (2 * random() - 1))) };
    },
  };
}

/** Draft/target pairs (same vocabulary and ids). */
export type PairKind =
  | 'unrelated'   // a narrower random draft with its own seed: rare agreement
  | 'truncated'   // the target's first layer: a smaller model sharing weights
  | 'perturbed';  // the target with 5 % multiplicative noise: frequent but imperfect agreement

export function tinyPairWeights(kind: PairKind, overrides: Partial<SdarConfig> = {}): PairWeights {
  const target = memoized(makeRandomWeights({ ...fixtureConfig(TARGET_SHAPE), ...overrides }, 11));
  switch (kind) {
    case 'unrelated': return { target, draft: memoized(makeRandomWeights({ ...fixtureConfig(NARROW_DRAFT_SHAPE), ...overrides }, 22)) };
    case 'truncated': return { target, draft: truncatedDraft(target, 1) };
    case 'perturbed': return { target, draft: memoized(perturbedDraft(target, 0.05, 44)) };
  }
}

/** Caches the tensors of a source once (the fixture regenerates them on every read). */
export function memoized(source: WeightSource): WeightSource {
  const seen = new Map<string, Tensor>();
  return {
    config: source.config,
    names: () => source.names(),
    read(name) {
      const t = seen.get(name) ?? source.read(name);
      seen.set(name, t);
      return t;
    },
  };
}

export async function makePair(weights: PairWeights, factory: ModelFactory, variant: GraphVariant = 'greedy'): Promise<Required<ModelPair>> {
  return { target: await factory(weights.target, variant), draft: await factory(weights.draft, variant) };
}

/** Prompts of lengths 1..(maxLength) cycling through every leftover 0..bl−1; ids avoid the special tokens. */
export function randomPrompts(count: number, seed: number, maxLength = 13, vocab = 500): number[][] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, (_, i) => {
    const length = 1 + ((i * 5 + Math.floor(random() * 4)) % maxLength);
    return Array.from({ length }, () => Math.floor(random() * vocab));
  });
}

/** Runs one request on fresh caches of the models' kind (freed afterwards). */
export async function run(models: ModelPair, prompt: readonly number[], request: GenerateRequest): Promise<Generation> {
  return withCaches(models, (caches) => generate(models, caches, prompt, request));
}

export function firstDivergence(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Where native decoding revealed one slot, and the target's top-2 logit margin there. */
export interface RevealTrace {
  readonly block: number;
  readonly step: number;
  readonly position: number;
  readonly token: number;
  readonly margin: number;
}

export interface RecomputeOptions {
  readonly maxTokens: number;
  readonly stopIds: ReadonlySet<number>;
  readonly threshold?: number;  // set: the dynamic rule with this τ; unset: the static rule
}

/**
 * The naive twin of native decoding: no prefill, no KV cache, no fold. Every step runs the target over the whole
 * sequence (committed blocks block-causal, the canvas bidirectional after them) on an empty cache. One reveal per
 * step (static: the most confident hole, ties to the lower position) or every hole above τ (dynamic). The model
 * must be the debug variant: its logits give the top-2 margin of every reveal.
 */
export async function recomputeDecode(model: ForwardModel, prompt: readonly number[], opts: RecomputeOptions): Promise<{ tokens: number[]; trace: RevealTrace[] }> {
  const { blockLength: bl, maskTokenId: mask, vocabSize: V } = model.config;
  const seq = [...prompt];
  const trace: RevealTrace[] = [];
  let blockStart = Math.floor(prompt.length / bl) * bl;
  const output = () => seq.slice(prompt.length);
  const cut = (): number[] | null => {
    const out: number[] = [];
    for (const t of output()) {
      if (out.length === opts.maxTokens) return out;
      if (t === mask) return null;
      if (opts.stopIds.has(t)) return out;
      out.push(t);
    }
    return out.length === opts.maxTokens ? out : null;
  };
  for (;;) {
    while (seq.length < blockStart + bl) seq.push(mask);
    for (let step = 0; seq.slice(blockStart).includes(mask); step++) {
      const L = seq.length;
      const windowMask = new Uint8Array(L * L); // [L, L]: block-causal over the blocks before the canvas; canvas sees all
      for (let r = 0; r < L; r++) for (let c = 0; c < L; c++) windowMask[r * L + c] = Math.floor(c / bl) <= Math.floor(r / bl) ? 1 : 0;
      const holes = seq.map((t, i) => (t === mask && i >= blockStart ? i : -1)).filter((i) => i >= 0);
      const empty = await model.createCache();
      const out = await model.forward({
        ids: Int32Array.from(seq), positions: Int32Array.from(seq.keys()), windowMask, selectRows: Int32Array.from(holes),
      }, empty).finally(() => empty.dispose());
      const logits = out.logits;
      if (logits === undefined) throw new Error('recomputeDecode needs the debug variant');
      const order = holes.map((_, i) => i).sort((a, b) => out.tokenProbs[b] - out.tokenProbs[a] || holes[a] - holes[b]);
      const above = order.filter((i) => opts.threshold !== undefined && out.tokenProbs[i] > opts.threshold);
      for (const i of above.length > 0 ? above : order.slice(0, 1)) {
        seq[holes[i]] = out.tokenIds[i];
        const row = Array.from(logits.subarray(i * V, (i + 1) * V)).sort((a, b) => b - a);
        trace.push({ block: blockStart / bl, step, position: holes[i], token: out.tokenIds[i], margin: row[0] - row[1] });
      }
      const done = cut();
      if (done !== null) return { tokens: done, trace };
    }
    blockStart += bl;
  }
}

/** The T5 report for a twin mismatch: first divergent output index, with where native decoding revealed it. */
export function describeDivergence(label: string, expected: ArrayLike<number>, got: ArrayLike<number>, promptLength: number, trace: readonly RevealTrace[]): string {
  return divergence(label, expected, got, promptLength, trace).report;
}

/** The report and the top-2 logit margin where native decoding revealed the first divergent token (Infinity: unknown). */
export function divergence(
  label: string, expected: ArrayLike<number>, got: ArrayLike<number>, promptLength: number, trace: readonly RevealTrace[],
): { readonly report: string; readonly margin: number } {
  const i = firstDivergence(expected, got);
  const at = trace.find((t) => t.position === promptLength + i);
  const where = at ? `block ${at.block}, step ${at.step}, position ${at.position}, top-2 margin ${at.margin.toExponential(3)}` : 'no trace';
  return {
    report: `${label}: first divergence at output index ${i} (${where}); expected ${Array.from(expected).join(',')}; got ${Array.from(got).join(',')}`,
    margin: at?.margin ?? Infinity,
  };
}

/** A cache's K/V on the host: its own buffers, or a device cache read back through its session. */
export async function cacheRows(model: ForwardModel, cache: KvCache): Promise<readonly KvRows[]> {
  if (cache instanceof HostKvCache) return cache.layers;
  if (model instanceof ModelSession) return model.readCache(cache);
  throw new Error('cacheRows: a device cache needs its ModelSession');
}

/**
 * The largest absolute difference between two caches' K/V in slots [0, length) (Infinity when the lengths differ);
 * 0 means bit-identical. Layout [Hkv, capacity, D].
 */
export async function cacheDifference(model: ForwardModel, a: KvCache, b: KvCache): Promise<number> {
  if (a.length !== b.length) return Infinity;
  const [ra, rb] = [await cacheRows(model, a), await cacheRows(model, b)];
  const { numKvHeads: h, headDim: d } = model.config;
  let diff = 0;
  for (let l = 0; l < ra.length; l++) {
    for (const which of ['key', 'value'] as const) {
      for (let head = 0; head < h; head++) {
        const x = ra[l][which].subarray(head * a.capacity * d, (head * a.capacity + a.length) * d);
        const y = rb[l][which].subarray(head * b.capacity * d, (head * b.capacity + b.length) * d);
        x.forEach((v, i) => { diff = Math.max(diff, Math.abs(v - y[i])); });
      }
    }
  }
  return diff;
}

export async function sameCacheContent(model: ForwardModel, a: KvCache, b: KvCache): Promise<boolean> {
  return (await cacheDifference(model, a, b)) === 0;
}
