// The verify window and every other forward's rows, assembled from parts (docs/decoding.md §2.2, docs/models.md §6.5),
// and what the strategies read back from a forward. Pure: parts in, arrays out; generate.ts runs the forward.
import type { ForwardInput, ForwardOutput } from '../model/types';
import { composeMask, fullMask, type MaskPart } from './masks';
import { sampleCandidates } from './noise';
import { reveal } from './reveal';
import type { Lane, PendingBlock, RevealRule, Sampling, StepChoice } from './types';

/** One part of a window: rows, their own mask, the earlier parts they see, and the rows whose prediction we read. */
export interface WindowPart {
  readonly ids: Int32Array;         // [n]
  readonly positions: Int32Array;   // [n] absolute; duplicates across parts allowed (RoPE copies, state copies)
  readonly self: Uint8Array;        // [n, n]
  readonly sees: readonly number[]; // earlier parts seen entirely
  readonly select: readonly number[]; // rows of this part
}

/** A window ready to run, and where each part's rows and reads ended up. */
export interface AssembledWindow {
  readonly input: ForwardInput;
  readonly rowOffsets: readonly number[];    // part p, row r → window row rowOffsets[p] + r
  readonly selectOffsets: readonly number[]; // part p, k-th select → output index selectOffsets[p] + k
}

export interface WindowRun extends AssembledWindow {
  readonly out: ForwardOutput;
}

/** Concatenates the parts into one forward's input. */
export function assembleWindow(parts: readonly WindowPart[]): AssembledWindow {
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
  return { input: { ids, positions, windowMask: composeMask(maskParts), selectRows }, rowOffsets, selectOffsets };
}

/** The window rows of whole parts, in the order given: what a commit copies into the cache. */
export function partRows(run: AssembledWindow, parts: readonly number[], partSize: number): number[] {
  const rows: number[] = [];
  for (const p of parts) for (let r = 0; r < partSize; r++) rows.push(run.rowOffsets[p] + r);
  return rows;
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
