// The two verifiers of a speculative round (docs/decoding.md §2, §3): what the target's verify window holds for one
// drafted block, and what the target's predictions there make final. Each drafted block is planned once: the slots,
// the step map or the state copies are computed in `plan` and shared by the window rows and the acceptance.
//
//  - SimSD as released (`simsd`): one DATA row per drafted slot (the reference token) and one MASK row per drafted
//    slot at the same position (RoPE copy), under the temporal mask built from the step map; greedy match in
//    position order plus the correction token. Close to, but not exactly, the target's own output (§2.5).
//  - Exact verification (`simsd-exact`): one state copy of the canvas per draft step, each seeing the cache and
//    itself; the target replays its reveal rule on every copy. Draft steps are accepted while the target's choice
//    is the same; at the first divergence the target's own choice is applied, which is exactly the native step.
import { applyChoice, greedyMatch, replayMatch } from './acceptance';
import { holesOf } from './canvas';
import { blockPositions, holeChoices, stepChoice, type WindowPart, type WindowRun } from './window';
import { simsdVerifyMask, stateCopiesMask } from './masks';
import type { DecodeParams, RevealRule, StepChoice } from './types';

/** One block as the draft denoised it. The states S_s are `start` with steps[0..s) applied. */
export interface DraftedBlock {
  readonly blockStart: number;
  readonly firstGenerated: number;
  readonly budgetLeft: number;          // tokens the budget allows from this block on
  readonly step0: number;               // step index (within the block) of the draft's first step
  readonly start: Int32Array;           // [bl] the canvas before the draft's first step
  readonly steps: readonly StepChoice[];
  readonly canvas: Int32Array;          // [bl] after the last step
}

/** What a verification made of one drafted block; indices are canvas indices. */
export interface BlockVerdict {
  readonly canvas: Int32Array;          // [bl] after acceptance
  readonly step: number;                // steps applied to this canvas so far
  readonly full: boolean;               // the draft's whole proposal for the block was accepted
  readonly drafted: readonly number[];  // slots the draft proposed and the target compared
  readonly matched: readonly number[];  // slots accepted as drafted
  readonly accepted: readonly number[]; // slots made final (matched + correction)
}

/** One drafted block's verification: its rows in the verify window, and the acceptance read from them. */
export interface BlockPlan {
  /** The rows; `sees` lists the earlier window parts (pending block, clean copies) they see entirely. */
  rows(sees: readonly number[]): WindowPart;
  /** `firstSelect`: the output index of the block's first read row. */
  accept(run: WindowRun, firstSelect: number): BlockVerdict;
}

export interface Verifier {
  /** The rule the draft denoises with. */
  readonly draftRule: (params: DecodeParams) => RevealRule;
  /** Whether the draft may stop inside a block once the output is final there (the release drafts every hole). */
  readonly draftEarlyExit: boolean;
  plan(block: DraftedBlock, params: DecodeParams): BlockPlan;
}

export const greedyMatchVerifier: Verifier = {
  // As released: one reveal per step with the static rule; with the dynamic rule, the draft uses it too.
  draftRule: (params) => (params.rule.kind === 'static' ? { kind: 'static', perStep: 1 } : params.rule),
  draftEarlyExit: false,

  plan(block, params) {
    const slots = holesOf(block.start, params.maskId);             // drafted slots, position order
    const stepOf = new Int32Array(block.start.length).fill(-1);
    block.steps.forEach((s, t) => s.positions.forEach((pos) => { stepOf[pos] = t; }));
    const stepMap = slots.map((slot) => stepOf[slot]);             // t_j: the draft step that revealed slot j
    if (stepMap.some((t) => t < 0)) throw new Error('internal: greedy-match verification needs every hole drafted');
    const known = Int32Array.from(block.start.keys()).filter((i) => block.start[i] !== params.maskId);
    const m = slots.length;
    return {
      rows(sees) {
        const n = known.length + 2 * m;
        const ids = new Int32Array(n);       // [n_known + 2m]: known, DATA, MASK
        const positions = new Int32Array(n); // [n_known + 2m]: MASK_j shares DATA_j's position (RoPE copy)
        known.forEach((slot, i) => { ids[i] = block.start[slot]; positions[i] = block.blockStart + slot; });
        slots.forEach((slot, j) => {
          ids[known.length + j] = block.canvas[slot];
          ids[known.length + m + j] = params.maskId;
          positions[known.length + j] = block.blockStart + slot;
          positions[known.length + m + j] = block.blockStart + slot;
        });
        const select = Array.from({ length: m }, (_, j) => known.length + m + j); // read at the MASK rows only
        return { ids, positions, self: simsdVerifyMask(known.length, stepMap), sees, select };
      },
      accept(run, firstSelect) {
        const steps = stepMap.map((t) => block.step0 + t); // noise key: the step at which the draft revealed the slot
        const target = holeChoices(run.out, firstSelect, slots, block.blockStart, steps, params.sampling).tokens;
        const { matched, accepted } = greedyMatch(slots.map((slot) => block.canvas[slot]), target);
        const canvas = block.start.slice();
        accepted.forEach((token, j) => { canvas[slots[j]] = token; });
        const drafted = Array.from(slots);
        return {
          canvas, step: block.step0 + accepted.length, full: matched === m,
          drafted, matched: drafted.slice(0, matched), accepted: drafted.slice(0, accepted.length),
        };
      },
    };
  },
};

export const stateCopyVerifier: Verifier = {
  draftRule: (params) => params.rule, // the target's rule maximises matches; exactness does not depend on it
  draftEarlyExit: true,

  plan(block, params) {
    const bl = params.blockLength;
    const states: Int32Array[] = [];  // S_0 … S_{q−1}: the canvas before each draft step
    let canvas = block.start;
    for (const step of block.steps) {
      states.push(canvas);
      canvas = applyChoice(canvas, step, params.maskId);
    }
    const holes = states.map((s) => holesOf(s, params.maskId));
    return {
      rows(sees) {
        const ids = new Int32Array(states.length * bl);       // [q·bl]
        const positions = new Int32Array(states.length * bl); // [q·bl], the block's positions once per copy
        const blockPos = blockPositions(block.blockStart, bl);
        const select: number[] = [];
        states.forEach((s, copy) => {
          ids.set(s, copy * bl);
          positions.set(blockPos, copy * bl);
          for (const h of holes[copy]) select.push(copy * bl + h);
        });
        return { ids, positions, self: stateCopiesMask(states.length, bl), sees, select };
      },
      accept(run, firstSelect) {
        let row = firstSelect;
        const targetSteps = states.map((_, copy) => {
          const choice = stepChoice(run.out, row, holes[copy], block.blockStart, block.step0 + copy, params.rule, params.sampling);
          row += holes[copy].length;
          return choice;
        });
        const sStar = replayMatch(block.steps, targetSteps);
        const full = sStar === states.length;
        const matched = block.steps.slice(0, sStar).flatMap((s) => Array.from(s.positions));
        return {
          canvas: full ? block.canvas : applyChoice(states[sStar], targetSteps[sStar], params.maskId),
          step: block.step0 + Math.min(sStar + 1, states.length), full,
          drafted: block.steps.flatMap((s) => Array.from(s.positions)), matched,
          accepted: full ? matched : [...matched, ...targetSteps[sStar].positions],
        };
      },
    };
  },
};
