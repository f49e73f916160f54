// The shape of one speculative round, shared by `simsd` and `simsd-exact` (simsd.md §2, §4, §5.1, §5.2):
// draft K blocks, verify them in one target forward, accept block by block, then commit and roll back.
// Window: [pending clean block B] [block 0 verification rows] [C_0] [block 1 verification rows] [C_1] … where
// C_j is the clean copy of drafted block j (for every block but the last). Block j's rows and C_j see the cache,
// B and C_{<j}; they never see the DATA/MASK rows or state copies of earlier blocks.
import { countHoles, isFinal, nextBlock } from './canvas';
import { draftBlocks, type DraftedBlock } from './draft';
import {
  cleanPart, commitPending, finishBlock, forwardOptions, pendingFirst, requireDraft, runWindow, type WindowPart,
  type WindowRun,
} from './forwards';
import type { DecodeParams, DecodeState, RevealRule, RoundContext, RoundResult } from './types';

/** What a verification made of one drafted block; indices are canvas indices. */
export interface BlockVerdict {
  readonly canvas: Int32Array;          // [bl] after acceptance
  readonly step: number;                // steps applied to this canvas so far
  readonly full: boolean;               // the draft's whole proposal for the block was accepted
  readonly drafted: readonly number[];  // slots the draft proposed and the target compared
  readonly matched: readonly number[];  // slots accepted as drafted
  readonly accepted: readonly number[]; // slots made final (matched + correction)
}

/** The parts that differ between `simsd` (release) and `simsd-exact`. */
export interface Verifier {
  readonly draftRule: (params: DecodeParams) => RevealRule;
  readonly draftEarlyExit: boolean;
  /** The block's verification rows; `sees` lists the parts (B, earlier clean copies) they see entirely. */
  part(block: DraftedBlock, sees: readonly number[], params: DecodeParams): WindowPart;
  /** Acceptance for the block from the target's predictions; `firstSelect` is its first output row. */
  accept(block: DraftedBlock, run: WindowRun, firstSelect: number, params: DecodeParams): BlockVerdict;
}

export async function speculativeRound(ctx: RoundContext, state: DecodeState, verifier: Verifier): Promise<RoundResult> {
  const { params: p, target } = ctx;
  const draft = requireDraft(ctx);
  const blocks = await draftBlocks(ctx, state, verifier.draftRule(p), verifier.draftEarlyExit);

  const parts: WindowPart[] = [];
  let sees: readonly number[] = pendingFirst(target, state.targetPending, parts);
  const verifyParts: number[] = [];
  const copyParts: number[] = [];
  blocks.forEach((b, j) => {
    parts.push(verifier.part(b, sees, p));
    verifyParts.push(parts.length - 1);
    if (j === blocks.length - 1) return;
    parts.push(cleanPart(b.blockStart, b.canvas, sees));
    copyParts.push(parts.length - 1);
    sees = [...sees, parts.length - 1];
  });
  const run = await runWindow(target, parts, forwardOptions(ctx));

  // Accept block by block; a fully matched block (not the last) is committed from its clean copy.
  const drafted: number[] = [];
  const matched: number[] = [];
  const accepted: number[] = [];
  let st: DecodeState = { ...state, targetPending: null, draftPending: null };
  let committedByCopy = 0;
  for (let j = 0; j < blocks.length; j++) {
    const b = blocks[j];
    const v = verifier.accept(b, run, run.selectOffsets[verifyParts[j]], p);
    const abs = (i: number) => b.blockStart + i;
    drafted.push(...v.drafted.map(abs));
    matched.push(...v.matched.map(abs));
    accepted.push(...v.accepted.map(abs));
    st = { ...st, canvas: v.canvas, step: v.step };
    if (!v.full || j === blocks.length - 1 || isFinal(st, p)) break;
    committedByCopy += 1;
    st = nextBlock(st, p, null, null);
  }

  // Commit: the folded pending block and the clean copies of fully matched blocks. The verification rows are scratch.
  commitPending(target, run, state.targetPending, copyParts.slice(0, committedByCopy));
  // Roll the draft back to the last final block: its later commits were optimistic.
  draft.cache.truncate(Math.min(draft.cache.length, st.blockStart));

  const verification = { drafted: Int32Array.from(drafted), matched: Int32Array.from(matched), accepted: Int32Array.from(accepted) };
  if (countHoles(st.canvas, p.maskId) > 0 || isFinal(st, p)) return { state: st, verification };
  // The current block is full (a full match, or the correction filled its last hole): commit it on both models.
  const block = { blockStart: st.blockStart, tokens: st.canvas };
  const targetPending = await finishBlock(target, ctx, block);
  const draftPending = await finishBlock(draft, ctx, block);
  return { state: nextBlock(st, p, targetPending, draftPending), verification };
}
