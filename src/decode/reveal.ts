// Reveal rules (decoding.md §1.2): which holes one denoising step reveals, given each hole's confidence.
// Pure: arrays in, arrays out.
import type { RevealRule } from './types';

/**
 * Returns the canvas indices to reveal, ascending.
 * - static: the min(n_s, holes) most confident holes; ties go to the lower position.
 * - dynamic: every hole with confidence > τ (strictly) if there are at least n_s of them, else the top n_s.
 * `holes` are canvas indices (ascending), `confidences[i]` belongs to `holes[i]`.
 */
export function reveal(rule: RevealRule, holes: Int32Array, confidences: ArrayLike<number>): Int32Array {
  if (holes.length === 0) return new Int32Array(0);
  if (rule.kind === 'dynamic') {
    const above = holes.filter((_, i) => confidences[i] > rule.threshold);
    if (above.length >= rule.perStep) return above;
  }
  return topByConfidence(holes, confidences, Math.min(rule.perStep, holes.length));
}

/** The n holes with the highest confidence (ties → lower position), returned in ascending position order. */
export function topByConfidence(holes: Int32Array, confidences: ArrayLike<number>, n: number): Int32Array {
  const order = Array.from(holes.keys()).sort((a, b) => confidences[b] - confidences[a] || holes[a] - holes[b]);
  return Int32Array.from(order.slice(0, n).map((i) => holes[i])).sort();
}

/** The rule record for S denoising steps per block (S must divide bl; checked by the caller). */
export function staticRule(blockLength: number, stepsPerBlock: number): RevealRule {
  return { kind: 'static', perStep: blockLength / stepsPerBlock };
}

export function dynamicRule(blockLength: number, stepsPerBlock: number, threshold: number): RevealRule {
  return { kind: 'dynamic', perStep: blockLength / stepsPerBlock, threshold };
}
