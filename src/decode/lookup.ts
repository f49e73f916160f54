// Context lookup (docs/decoding.md §10): a draft that costs no forward. Code repeats itself (identifiers, calls, whole
// lines), so the tokens that followed the last LOOKUP_NGRAM tokens the previous time they occurred, in the prompt or
// the output so far, are a guess for the holes of the current block. The guess becomes a sequence of draft states
// (the holes revealed left to right, n_s per step) that the exact state-copy verifier checks like any draft, so the
// output is the target's own. Pure: ids in, a drafted block (or null: nothing to propose) out.
import { applyChoice } from './acceptance';
import { budgetLeft, cutOutput, holesOf } from './canvas';
import type { DraftedBlock } from './verify';
import type { DecodeParams, DecodeState, StepChoice } from './types';

/** Tokens that must match before the lookup proposes anything: fewer match by chance too often. */
export const LOOKUP_NGRAM = 3;

/**
 * The block the context proposes for `state`'s canvas, or null when the holes are not one run at the end of the
 * canvas, or the last LOOKUP_NGRAM tokens never occurred before. `promptIds` is the whole prompt (its last tokens
 * may sit in the first canvas as the leftover).
 */
export function lookupBlock(promptIds: readonly number[], state: DecodeState, params: DecodeParams): DraftedBlock | null {
  const holes = holesOf(state.canvas, params.maskId);
  if (holes.length === 0 || holes[holes.length - 1] - holes[0] !== holes.length - 1 || holes[holes.length - 1] !== params.blockLength - 1) return null;
  const known = Array.from(state.canvas.subarray(state.firstGenerated, holes[0]));
  const sequence = [...promptIds, ...state.output, ...known];
  const found = continuation(sequence, holes.length) ?? [];
  const maskAt = found.indexOf(params.maskId);
  const guess = maskAt < 0 ? found : found.slice(0, maskAt); // a MASK id in the prompt is no token to propose
  if (guess.length === 0) return null;
  const steps: StepChoice[] = [];
  let canvas = state.canvas;
  const budget = budgetLeft(state, params);
  for (let i = 0; i < guess.length; i += params.rule.perStep) {
    const n = Math.min(params.rule.perStep, guess.length - i);
    const step = { positions: holes.slice(i, i + n), tokens: Int32Array.from(guess.slice(i, i + n)) };
    canvas = applyChoice(canvas, step, params.maskId);
    steps.push(step);
    if (cutOutput(canvas, state.firstGenerated, budget, params).reason !== null) break; // final: nothing more to verify
  }
  return { blockStart: state.blockStart, firstGenerated: state.firstGenerated, budgetLeft: budget, step0: state.step, start: state.canvas, steps, canvas };
}

/**
 * Up to `count` tokens that followed an earlier occurrence of the sequence's last LOOKUP_NGRAM tokens, or null when
 * there is none: the most recent occurrence with `count` tokens after it, else the one with the most (a recent
 * occurrence right before the end has only a token or two after it, and a one-token guess saves no forward).
 */
export function continuation(sequence: readonly number[], count: number): number[] | null {
  const n = LOOKUP_NGRAM;
  const end = sequence.length;
  let best: number[] | null = null;
  for (let i = end - n - 1; i >= 0; i--) {
    let k = 0;
    while (k < n && sequence[i + k] === sequence[end - n + k]) k++;
    if (k < n) continue;
    const after = sequence.slice(i + n, Math.min(i + n + count, end));
    if (best === null || after.length > best.length) best = after;
    if (after.length === count) break;
  }
  return best;
}
