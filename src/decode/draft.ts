// The draft's side of a round (simsd.md §2.1 step 1, §4 step 1, §5.2): denoise the canvas, and with K > 1 the
// following blocks on an optimistic context. Each drafted block but the last is committed in the draft's cache
// (its clean pass folded into the next block's first step, or run separately); the round rolls back later.
import { applyChoice } from './acceptance';
import { budgetLeft, countHoles, emptyCanvas, cutOutput } from './canvas';
import { denoiseStep, finishBlock, requireDraft } from './forwards';
import type { DecodeState, PendingBlock, RevealRule, RoundContext, StepChoice } from './types';

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

/**
 * Drafts up to K blocks from `state`. The draft stops early in a block once the output would be final there
 * (only with `earlyExit`; the release drafts every hole) and drafts no further block after a final one.
 */
export async function draftBlocks(ctx: RoundContext, state: DecodeState, rule: RevealRule, earlyExit: boolean): Promise<DraftedBlock[]> {
  const draft = requireDraft(ctx);
  const p = ctx.params;
  let pending: PendingBlock | null = state.draftPending;
  let blockStart = state.blockStart;
  let firstGenerated = state.firstGenerated;
  let step0 = state.step;
  let canvas = state.canvas;
  let budget = budgetLeft(state, p);
  const blocks: DraftedBlock[] = [];
  for (let j = 0; j < p.blocksPerVerify; j++) {
    const start = canvas;
    const steps: StepChoice[] = [];
    while (countHoles(canvas, p.maskId) > 0) {
      const choice = await denoiseStep(draft, ctx, pending, blockStart, canvas, step0 + steps.length, rule);
      pending = null;
      canvas = applyChoice(canvas, choice, p.maskId);
      steps.push(choice);
      if (earlyExit && cutOutput(canvas, firstGenerated, budget, p).reason !== null) break;
    }
    blocks.push({ blockStart, firstGenerated, budgetLeft: budget, step0, start, steps, canvas });
    if (j === p.blocksPerVerify - 1 || cutOutput(canvas, firstGenerated, budget, p).reason !== null) break;
    pending = await finishBlock(draft, ctx, { blockStart, tokens: canvas });
    budget -= p.blockLength - firstGenerated;
    blockStart += p.blockLength;
    firstGenerated = 0;
    step0 = 0;
    canvas = emptyCanvas(p);
  }
  return blocks;
}
