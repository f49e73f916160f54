// `simsd-exact`: exactly lossless verification with state copies (simsd.md §4). The draft denoises with the
// target's reveal rule and records the canvas before each of its q steps (S_0 … S_{q−1}). The verify window holds
// one state copy per step, each seeing the cache (plus B and earlier clean copies) and only itself. The target
// replays the reveal rule on every copy; draft steps are accepted while the target's choice is the same, and at
// the first divergence the target's own choice is applied to S_{s*}, which is exactly the native state. With
// coupled sampling (§5.4) the draft and the target share the noise of each (position, step).
import { applyChoice, replayMatch } from './acceptance';
import { holesOf } from './canvas';
import type { DraftedBlock } from './draft';
import { blockPositions, stepChoice, type WindowPart, type WindowRun } from './forwards';
import { stateCopiesMask } from './masks';
import { speculativeRound, type BlockVerdict, type Verifier } from './speculate';
import type { DecodeParams, DecodeState, RoundContext, RoundResult, StepChoice } from './types';

/** S_0 … S_{q−1}: the canvas before each draft step. */
function statesOf(block: DraftedBlock, maskId: number): Int32Array[] {
  const states: Int32Array[] = [];
  let canvas = block.start;
  for (const step of block.steps) {
    states.push(canvas);
    canvas = applyChoice(canvas, step, maskId);
  }
  return states;
}

export const exactVerifier: Verifier = {
  draftRule: (params) => params.rule, // the target's rule maximises matches; exactness does not depend on it
  draftEarlyExit: true,

  part(block: DraftedBlock, sees: readonly number[], params: DecodeParams): WindowPart {
    const bl = params.blockLength;
    const states = statesOf(block, params.maskId);
    const ids = new Int32Array(states.length * bl);       // [q·bl]
    const positions = new Int32Array(states.length * bl); // [q·bl], the block's positions once per copy
    const select: number[] = [];
    const blockPos = blockPositions(block.blockStart, bl);
    states.forEach((s, copy) => {
      ids.set(s, copy * bl);
      positions.set(blockPos, copy * bl);
      for (const h of holesOf(s, params.maskId)) select.push(copy * bl + h);
    });
    return { ids, positions, self: stateCopiesMask(states.length, bl), sees, select };
  },

  accept(block: DraftedBlock, run: WindowRun, firstSelect: number, params: DecodeParams): BlockVerdict {
    const states = statesOf(block, params.maskId);
    const targetSteps: StepChoice[] = [];
    let row = firstSelect;
    states.forEach((s, copy) => {
      const holes = holesOf(s, params.maskId);
      targetSteps.push(stepChoice(run.out, row, holes, block.blockStart, block.step0 + copy, params.rule, params.sampling));
      row += holes.length;
    });
    const sStar = replayMatch(block.steps, targetSteps);
    const canvas = sStar < states.length ? applyChoice(states[sStar], targetSteps[sStar], params.maskId) : block.canvas;
    const matched = block.steps.slice(0, sStar).flatMap((s) => Array.from(s.positions));
    const accepted = sStar < states.length ? [...matched, ...targetSteps[sStar].positions] : matched;
    return {
      canvas, step: block.step0 + Math.min(sStar + 1, states.length), full: sStar === states.length,
      drafted: block.steps.flatMap((s) => Array.from(s.positions)), matched, accepted,
    };
  },
};

export function simsdExactRound(ctx: RoundContext, state: DecodeState): Promise<RoundResult> {
  return speculativeRound(ctx, state, exactVerifier);
}
