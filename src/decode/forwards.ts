// The forwards every strategy is made of (onnxruntime.md §4): a window assembled from parts, the pending clean
// block folded in front (simsd.md §5.1), denoise steps, clean passes, and the block-causal prefill.
// This is the only decode file that calls ForwardModel.forward.
import type { KvCache } from '../model/kv';
import type { CancelFlag, ForwardModel, ForwardOptions, ForwardOutput } from '../model/types';
import { blockCausalMask, composeMask, fullMask, type MaskPart } from './masks';
import { holesOf } from './canvas';
import { sampleCandidates } from './noise';
import { reveal } from './reveal';
import type { Lane, PendingBlock, RevealRule, RoundContext, Sampling, StepChoice } from './types';

/** Prefill chunks hold at most this many rows (whole blocks), so cancellation can act between chunks. */
export const PREFILL_CHUNK_ROWS = 64;

/** One part of a window: rows, their own mask, the earlier parts they see, and the rows whose prediction we read. */
export interface WindowPart {
  readonly ids: Int32Array;         // [n]
  readonly positions: Int32Array;   // [n] absolute; duplicates across parts allowed (RoPE copies, state copies)
  readonly self: Uint8Array;        // [n, n]
  readonly sees: readonly number[]; // earlier parts seen entirely
  readonly select: readonly number[]; // rows of this part
}

export interface WindowRun {
  readonly out: ForwardOutput;
  readonly rowOffsets: readonly number[];    // part p, row r → window row rowOffsets[p] + r
  readonly selectOffsets: readonly number[]; // part p, k-th select → output index selectOffsets[p] + k
}

export function forwardOptions(ctx: RoundContext): ForwardOptions {
  return { temperature: ctx.params.sampling?.temperature, signal: ctx.signal };
}

/** Runs one forward over the concatenated parts and counts it on the lane. Nothing is committed here. */
export async function runWindow(lane: Lane, parts: readonly WindowPart[], options: ForwardOptions): Promise<WindowRun> {
  const L = parts.reduce((n, p) => n + p.ids.length, 0);
  const ids = new Int32Array(L);       // [L]
  const positions = new Int32Array(L); // [L]
  const select: number[] = [];
  const rowOffsets: number[] = [];
  const selectOffsets: number[] = [];
  let row = 0;
  for (const p of parts) {
    ids.set(p.ids, row);
    positions.set(p.positions, row);
    rowOffsets.push(row);
    selectOffsets.push(select.length);
    for (const r of p.select) select.push(row + r);
    row += p.ids.length;
  }
  const maskParts: MaskPart[] = parts.map((p) => ({ size: p.ids.length, self: p.self, sees: p.sees }));
  const selectRows = Int32Array.from(select.length > 0 ? select : [0]); // R ≥ 1: a dummy row when nothing is read
  const out = await lane.model.forward({ ids, positions, windowMask: composeMask(maskParts), selectRows }, lane.cache, options);
  lane.counter.forwards += 1;
  lane.counter.rows += L;
  return { out, rowOffsets, selectOffsets };
}

/** Commits the rows of whole parts, in the order given, into the lane's cache. */
export function commitParts(lane: Lane, run: WindowRun, parts: readonly number[], partSize: number): void {
  const rows: number[] = [];
  for (const p of parts) for (let r = 0; r < partSize; r++) rows.push(run.rowOffsets[p] + r);
  if (rows.length > 0) lane.cache.commit(run.out.newKv, run.out.windowLength, rows);
}

export function blockPositions(blockStart: number, blockLength: number): Int32Array {
  return Int32Array.from({ length: blockLength }, (_, i) => blockStart + i);
}

/** A finished block as a window part: it sees itself bidirectionally (the clean stream); nothing is read. */
export function cleanPart(blockStart: number, tokens: Int32Array, sees: readonly number[]): WindowPart {
  return { ids: tokens, positions: blockPositions(blockStart, tokens.length), self: fullMask(tokens.length), sees, select: [] };
}

/** Puts the lane's pending block first in a window (or nothing); returns the parts every other part must see. */
export function pendingFirst(lane: Lane, pending: PendingBlock | null, parts: WindowPart[]): number[] {
  if (pending === null) return [];
  if (pending.blockStart !== lane.cache.length) throw new Error(`internal: pending block at ${pending.blockStart}, cache at ${lane.cache.length}`);
  parts.push(cleanPart(pending.blockStart, pending.tokens, []));
  return [parts.length - 1];
}

/** After a forward: commit the folded pending block (part 0, if any) and the given block-sized parts, in order. */
export function commitPending(lane: Lane, run: WindowRun, pending: PendingBlock | null, extraParts: readonly number[] = []): void {
  commitParts(lane, run, pending === null ? extraParts : [0, ...extraParts], lane.model.config.blockLength);
  if (pending !== null) lane.counter.foldedCleanPasses += 1;
}

/**
 * Token and confidence for each hole row read from a forward (greedy argmax, or coupled sampling). The k-th hole is
 * select row `firstSelect + k`; `step` is the noise key's step index (one for all holes, or one per hole).
 */
export function holeChoices(
  out: ForwardOutput, firstSelect: number, holes: Int32Array, blockStart: number, step: number | Int32Array,
  sampling: Sampling | null,
): { readonly tokens: Int32Array; readonly confidences: Float64Array } {
  const tokens = new Int32Array(holes.length);
  const confidences = new Float64Array(holes.length);
  holes.forEach((h, i) => {
    const r = firstSelect + i;
    if (sampling === null) {
      tokens[i] = out.tokenIds[r];
      confidences[i] = out.tokenProbs[r];
      return;
    }
    const topK = out.topK;
    if (topK === undefined) throw new Error('internal: sampling needs the model\'s sampling variant');
    const k = topK.k;
    const pick = sampleCandidates({
      ids: topK.ids.subarray(r * k, (r + 1) * k), logits: topK.logits.subarray(r * k, (r + 1) * k), logSumExp: topK.logSumExp[r],
    }, sampling, blockStart + h, typeof step === 'number' ? step : step[i]);
    tokens[i] = pick.token;
    confidences[i] = pick.confidence;
  });
  return { tokens, confidences };
}

/** The reveal rule applied to one copy of the canvas: which holes this step reveals, with which tokens. */
export function stepChoice(
  out: ForwardOutput, firstSelect: number, holes: Int32Array, blockStart: number, step: number, rule: RevealRule,
  sampling: Sampling | null,
): StepChoice {
  const { tokens, confidences } = holeChoices(out, firstSelect, holes, blockStart, step, sampling);
  const positions = reveal(rule, holes, confidences);
  const chosen = Int32Array.from(positions, (p) => tokens[holes.indexOf(p)]);
  return { positions, tokens: chosen };
}

/**
 * One denoising step (simsd.md §1.2): the canvas sees the cache (plus the folded pending block) and itself.
 * Returns the step's reveals; the caller writes them into the canvas.
 */
export async function denoiseStep(
  lane: Lane, ctx: RoundContext, pending: PendingBlock | null, blockStart: number, canvas: Int32Array, step: number,
  rule: RevealRule,
): Promise<StepChoice> {
  const parts: WindowPart[] = [];
  const sees = pendingFirst(lane, pending, parts);
  const holes = holesOf(canvas, ctx.params.maskId);
  parts.push({ ids: canvas, positions: blockPositions(blockStart, canvas.length), self: fullMask(canvas.length), sees, select: Array.from(holes) });
  const run = await runWindow(lane, parts, forwardOptions(ctx));
  commitPending(lane, run, pending);
  return stepChoice(run.out, run.selectOffsets[parts.length - 1], holes, blockStart, step, rule, ctx.params.sampling);
}

/** The separate clean pass (simsd.md §1.5): the finished block sees the cache and itself; commit its K/V. */
export async function cleanPass(lane: Lane, ctx: RoundContext, block: PendingBlock): Promise<void> {
  if (block.blockStart !== lane.cache.length) throw new Error(`internal: clean pass at ${block.blockStart}, cache at ${lane.cache.length}`);
  const run = await runWindow(lane, [cleanPart(block.blockStart, block.tokens, [])], forwardOptions(ctx));
  commitParts(lane, run, [0], block.tokens.length);
  lane.counter.cleanPasses += 1;
}

/** A full block's commit: folded into the lane's next forward (returns it as pending) or a clean pass now. */
export async function finishBlock(lane: Lane, ctx: RoundContext, block: PendingBlock): Promise<PendingBlock | null> {
  if (ctx.params.fold) return block;
  await cleanPass(lane, ctx, block);
  return null;
}

export interface PrefillResult {
  readonly committedTokens: number; // prompt tokens run now (the re-prefilled tokens)
  readonly forwards: number;
}

/**
 * Prefill (simsd.md §1.1): commits `ids[cache.length, aligned)`, the prompt's full blocks not yet in the cache,
 * in chunks of whole blocks (≤ 64 rows). Each chunk sees the cache plus itself, block-causally. The cache must
 * already hold exactly the K/V of `ids[0, cache.length)` (a prefix-cache hit) with a length on a block edge.
 */
export async function prefill(model: ForwardModel, cache: KvCache, ids: ArrayLike<number>, signal?: CancelFlag): Promise<PrefillResult> {
  const bl = model.config.blockLength;
  const aligned = Math.floor(ids.length / bl) * bl;
  if (cache.length % bl !== 0 || cache.length > aligned) {
    throw new Error(`internal: prefill from cache length ${cache.length} (block length ${bl}, ${aligned} prompt tokens in full blocks)`);
  }
  const chunk = Math.max(bl, Math.floor(PREFILL_CHUNK_ROWS / bl) * bl);
  const start = cache.length;
  let forwards = 0;
  for (let from = start; from < aligned; from += chunk) {
    const n = Math.min(chunk, aligned - from);
    const chunkIds = Int32Array.from({ length: n }, (_, i) => ids[from + i]);
    const input = { ids: chunkIds, positions: blockPositions(from, n), windowMask: blockCausalMask(n, bl), selectRows: Int32Array.of(0) };
    const out = await model.forward(input, cache, { signal });
    cache.commit(out.newKv, n, Array.from({ length: n }, (_, i) => i));
    forwards += 1;
  }
  return { committedTokens: aligned - start, forwards };
}

/** Unused-lane guard for strategies that need the draft. */
export function requireDraft(ctx: RoundContext): Lane {
  if (ctx.draft === null) throw new Error('internal: this strategy needs a draft model');
  return ctx.draft;
}
