// Native SDAR block decoding (simsd.md §1): one denoising step per round on the target; when the canvas is
// full, its clean pass is folded into the next step (default) or run now. The reveal rule is a parameter.
import { applyChoice } from './acceptance';
import { countHoles, isFinal, nextBlock } from './canvas';
import { denoiseStep, finishBlock } from './forwards';
import type { DecodeState, RevealRule, RoundContext, RoundResult } from './types';

export async function vanillaRound(ctx: RoundContext, state: DecodeState, rule: RevealRule): Promise<RoundResult> {
  const { params, target } = ctx;
  const choice = await denoiseStep(target, ctx, state.targetPending, state.blockStart, state.canvas, state.step, rule);
  const canvas = applyChoice(state.canvas, choice, params.maskId);
  const after: DecodeState = { ...state, canvas, step: state.step + 1, targetPending: null };
  // Early exit (§1.4): a final output needs neither the remaining steps nor the clean pass.
  if (countHoles(canvas, params.maskId) > 0 || isFinal(after, params)) return { state: after, verification: null };
  const pending = await finishBlock(target, ctx, { blockStart: state.blockStart, tokens: canvas });
  return { state: nextBlock(after, params, pending, null), verification: null };
}
