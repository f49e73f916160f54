// Shared noise for coupled sampling (decoding.md §6): Gumbel noise from a counter-based hash of
// (seed, absolute position, step index within the block, token id). The draft and the target draw the same
// noise for the same key, so with Gumbel-max both sample x = argmax_v (ℓ_v/T + G_v), which is an exact sample
// of softmax(ℓ/T) restricted to the candidates. The noise is keyed by token id, never by rank.
import type { Sampling } from './types';

/** A bijective 32-bit mixer (lowbias32: Wellons' hash-prospector). */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** 32-bit hash of four 32-bit words and a salt; each word passes through the mixer in turn. */
function hash4(a: number, b: number, c: number, d: number, salt: number): number {
  let h = mix32(salt ^ 0x9e3779b9);
  h = mix32((h ^ a) + 0x85ebca6b);
  h = mix32((h ^ b) + 0xc2b2ae35);
  h = mix32((h ^ c) + 0x27d4eb2f);
  h = mix32((h ^ d) + 0x165667b1);
  return h;
}

/** A uniform double in (0, 1) with 53 random bits, from the key. */
export function uniform(seed: number, position: number, step: number, tokenId: number): number {
  const hi = hash4(seed, position, step, tokenId, 1) >>> 11;    // 21 bits
  const lo = hash4(seed, position, step, tokenId, 2);           // 32 bits
  return (hi * 4294967296 + lo + 0.5) / 9007199254740992;       // (k + 0.5) / 2^53
}

/** Standard Gumbel noise G = −log(−log U). */
export function gumbel(seed: number, position: number, step: number, tokenId: number): number {
  return -Math.log(-Math.log(uniform(seed, position, step, tokenId)));
}

/** Top-k candidates of one select row (a view into the sampling variant's output). */
export interface CandidateRow {
  readonly ids: Int32Array;      // [k] token ids, highest logit first
  readonly logits: Float32Array; // [k] raw logits
  readonly logSumExp: number;    // logsumexp(ℓ/T) over the whole vocabulary
}

export interface SampledToken {
  readonly token: number;
  readonly confidence: number;   // softmax(ℓ/T)[token] over the full, unfiltered vocabulary
}

/**
 * Gumbel-max over the first `sampling.topK` candidates: token = argmax (ℓ_v/T + G(seed, position, step, v)).
 * Ties (probability ~0) go to the earlier candidate. Candidates with ℓ = −∞ (the banned MASK id) never win.
 */
export function sampleCandidates(row: CandidateRow, sampling: Sampling, position: number, step: number): SampledToken {
  const { temperature: T, topK, seed } = sampling;
  const k = Math.min(topK, row.ids.length);
  let best = -1;
  let bestScore = -Infinity;
  for (let i = 0; i < k; i++) {
    const logit = row.logits[i];
    if (logit === -Infinity) continue;
    const score = logit / T + gumbel(seed, position, step, row.ids[i]);
    if (score > bestScore) { best = i; bestScore = score; }
  }
  if (best < 0) throw new Error('internal: no finite candidate to sample');
  return { token: row.ids[best], confidence: Math.exp(row.logits[best] / T - row.logSumExp) };
}
