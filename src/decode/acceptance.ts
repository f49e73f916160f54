// Acceptance rules. Pure: ids in, ids out.
//  - greedy-match (simsd, as released; decoding.md §2.4): walk the drafted positions in position order, accept while
//    the draft token equals the target's, then take the target's token at the first mismatch (the correction
//    token). No extra token on a full match.
//  - replay (simsd-exact; decoding.md §3): accept draft steps while the target, replaying the reveal rule on the
//    same state copy, reveals the same positions with the same tokens. At the first divergence the target's own
//    choice is applied instead, which is exactly the native step.
import type { StepChoice } from './types';

export interface GreedyVerdict {
  readonly matched: number;      // j: leading drafted positions where draft == target
  readonly accepted: Int32Array; // d[0:j] plus the correction a[j] when j < m
}

/** `draft[j]` and `target[j]` are the tokens for the j-th drafted position (position order). */
export function greedyMatch(draft: Int32Array, target: Int32Array): GreedyVerdict {
  const m = draft.length;
  let j = 0;
  while (j < m && draft[j] === target[j]) j++;
  const accepted = new Int32Array(j < m ? j + 1 : m);
  accepted.set(draft.subarray(0, j));
  if (j < m) accepted[j] = target[j];
  return { matched: j, accepted };
}

/** True when both choices reveal the same positions with the same tokens. */
export function sameChoice(a: StepChoice, b: StepChoice): boolean {
  if (a.positions.length !== b.positions.length) return false;
  for (let i = 0; i < a.positions.length; i++) {
    if (a.positions[i] !== b.positions[i] || a.tokens[i] !== b.tokens[i]) return false;
  }
  return true;
}

/** The number of leading steps on which the target's choice equals the draft's (q on a full match). */
export function replayMatch(draftSteps: readonly StepChoice[], targetSteps: readonly StepChoice[]): number {
  let s = 0;
  while (s < draftSteps.length && s < targetSteps.length && sameChoice(draftSteps[s], targetSteps[s])) s++;
  return s;
}

/** A copy of the canvas with one step's reveals written in. Known slots are never overwritten. */
export function applyChoice(canvas: Int32Array, choice: StepChoice, maskId: number): Int32Array {
  const next = canvas.slice();
  choice.positions.forEach((p, i) => {
    if (next[p] !== maskId) throw new Error(`internal: slot ${p} is already known`);
    next[p] = choice.tokens[i];
  });
  return next;
}
