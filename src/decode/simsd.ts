// `simsd`: SimSD as released (simsd.md §2). The draft denoises the holes with the static rule, one reveal per
// step, giving draft tokens d_j (position order) and the step map t_j. The verify window holds the known rows,
// one DATA row per drafted slot (the reference tokens) and one MASK row per drafted slot at the same position
// (RoPE copy), under the temporal mask (§2.3). Acceptance is greedy-match in position order plus the correction
// token (§2.4). Not exactly lossless (§3). Extensions: fold (§5.1), K > 1 with clean copies (§5.2), budget in
// tokens (§5.3); with sampling the shared noise raises matches but the output is only approximately
// target-distributed (§5.4).
import { greedyMatch } from './acceptance';
import { holesOf } from './canvas';
import type { DraftedBlock } from './draft';
import { blockPositions, holeChoices, type WindowPart, type WindowRun } from './forwards';
import { simsdVerifyMask } from './masks';
import { speculativeRound, type BlockVerdict, type Verifier } from './speculate';
import type { DecodeParams, DecodeState, RoundContext, RoundResult } from './types';

/** Drafted slots (position order) and the relative draft step that revealed each (the step map t_j). */
function draftedSlots(block: DraftedBlock, maskId: number): { readonly slots: Int32Array; readonly stepMap: Int32Array } {
  const slots = holesOf(block.start, maskId);
  const stepOf = new Int32Array(block.start.length).fill(-1);
  block.steps.forEach((s, t) => s.positions.forEach((pos) => { stepOf[pos] = t; }));
  const stepMap = slots.map((slot) => stepOf[slot]);
  if (stepMap.some((t) => t < 0)) throw new Error('internal: the release verifier needs every hole drafted');
  return { slots, stepMap };
}

export const releaseVerifier: Verifier = {
  // The release drafts with the static rule at S = bl (one reveal per step), whatever the target's rule.
  draftRule: () => ({ kind: 'static', perStep: 1 }),
  draftEarlyExit: false,

  part(block: DraftedBlock, sees: readonly number[], params: DecodeParams): WindowPart {
    const { slots, stepMap } = draftedSlots(block, params.maskId);
    const known = Int32Array.from(block.start.keys()).filter((i) => block.start[i] !== params.maskId);
    const m = slots.length;
    const rows = known.length + 2 * m;
    const ids = new Int32Array(rows);       // [n_known + 2m]: known, DATA, MASK
    const positions = new Int32Array(rows); // [n_known + 2m]: MASK_j shares DATA_j's position (RoPE copy)
    known.forEach((slot, i) => { ids[i] = block.start[slot]; positions[i] = block.blockStart + slot; });
    slots.forEach((slot, j) => {
      ids[known.length + j] = block.canvas[slot];
      ids[known.length + m + j] = params.maskId;
      positions[known.length + j] = block.blockStart + slot;
      positions[known.length + m + j] = block.blockStart + slot;
    });
    const select = Array.from({ length: m }, (_, j) => known.length + m + j); // logits are read at the MASK rows only
    return { ids, positions, self: simsdVerifyMask(known.length, stepMap), sees, select };
  },

  accept(block: DraftedBlock, run: WindowRun, firstSelect: number, params: DecodeParams): BlockVerdict {
    const { slots, stepMap } = draftedSlots(block, params.maskId);
    const steps = stepMap.map((t) => block.step0 + t); // noise key: the step at which the draft revealed the slot
    const target = holeChoices(run.out, firstSelect, slots, block.blockStart, steps, params.sampling).tokens;
    const draft = slots.map((slot) => block.canvas[slot]);
    const { matched, accepted } = greedyMatch(draft, target);
    const canvas = block.start.slice();
    accepted.forEach((token, j) => { canvas[slots[j]] = token; });
    const drafted = Array.from(slots);
    return {
      canvas, step: block.step0 + accepted.length, full: matched === slots.length,
      drafted, matched: drafted.slice(0, matched), accepted: drafted.slice(0, accepted.length),
    };
  },
};

export function simsdRound(ctx: RoundContext, state: DecodeState): Promise<RoundResult> {
  return speculativeRound(ctx, state, releaseVerifier);
}
