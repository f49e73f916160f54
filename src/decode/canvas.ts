// The canvas and the output it emits (decoding.md §1.1, §1.4). Pure.
import type { DecodeParams, DecodeState, PendingBlock } from './types';

/** Canvas indices that still hold MASK, ascending. */
export function holesOf(canvas: Int32Array, maskId: number): Int32Array {
  return Int32Array.from(canvas.keys()).filter((i) => canvas[i] === maskId);
}

export function countHoles(canvas: Int32Array, maskId: number): number {
  let n = 0;
  for (const t of canvas) if (t === maskId) n++;
  return n;
}

/** A canvas of bl holes. */
export function emptyCanvas(params: DecodeParams): Int32Array {
  return new Int32Array(params.blockLength).fill(params.maskId);
}

/**
 * Geometry of a prompt (§1.1): blocks count from absolute position 0, the full blocks are prefilled, and the
 * leftover `prompt[aligned, L)` opens the first canvas.
 */
export function initialState(promptIds: ArrayLike<number>, params: DecodeParams): DecodeState {
  const bl = params.blockLength;
  const aligned = Math.floor(promptIds.length / bl) * bl;
  const canvas = emptyCanvas(params);
  for (let i = aligned; i < promptIds.length; i++) canvas[i - aligned] = promptIds[i];
  return {
    blockStart: aligned, canvas, firstGenerated: promptIds.length - aligned, step: 0, output: [],
    targetPending: null, draftPending: null,
  };
}

/** What a canvas emits: its leading known generated tokens, and why the output ends here, if it does. */
export interface OutputCut {
  readonly tokens: readonly number[];           // emitted generated tokens of this canvas (a stop id excluded)
  readonly reason: 'stop' | 'length' | null;    // null: the output goes on
}

/**
 * Walks the generated slots in position order. The output ends at the first stop id whose earlier slots are all
 * known (early exit, §1.4), or when `budgetLeft` tokens are emitted. A hole before either keeps the output open.
 */
export function cutOutput(canvas: Int32Array, firstGenerated: number, budgetLeft: number, params: DecodeParams): OutputCut {
  const tokens: number[] = [];
  for (let i = firstGenerated; i < canvas.length; i++) {
    if (tokens.length >= budgetLeft) return { tokens, reason: 'length' };
    const t = canvas[i];
    if (t === params.maskId) return { tokens, reason: null };
    if (params.stopIds.has(t)) return { tokens, reason: 'stop' };
    tokens.push(t);
  }
  return { tokens, reason: tokens.length >= budgetLeft ? 'length' : null };
}

/** Tokens the budget still allows after the finished blocks. */
export function budgetLeft(state: DecodeState, params: DecodeParams): number {
  return params.maxTokens - state.output.length;
}

/** True when the state's output is final (stop or budget reached): no further forward is needed. */
export function isFinal(state: DecodeState, params: DecodeParams): boolean {
  return cutOutput(state.canvas, state.firstGenerated, budgetLeft(state, params), params).reason !== null;
}

/**
 * Finishes the full canvas of `state` and opens the next block. The finished block's generated tokens join the
 * output; `targetPending`/`draftPending` are the lanes' folded clean passes (null when already committed).
 */
export function nextBlock(
  state: DecodeState, params: DecodeParams, targetPending: PendingBlock | null, draftPending: PendingBlock | null,
): DecodeState {
  if (countHoles(state.canvas, params.maskId) > 0) throw new Error('internal: closing a canvas with holes');
  return {
    blockStart: state.blockStart + params.blockLength,
    canvas: emptyCanvas(params),
    firstGenerated: 0,
    step: 0,
    output: [...state.output, ...state.canvas.subarray(state.firstGenerated)],
    targetPending,
    draftPending,
  };
}

/**
 * Where a single-line output ends: just after the first token holding a line break, or null while the line goes on.
 * This is the same first line post-processing keeps (completion/postprocess/single-line.ts): generating past it is
 * wasted work.
 */
export function lineEndCut(tokens: readonly number[], tokenText: (id: number) => string): number | null {
  const i = tokens.findIndex((t) => tokenText(t).includes('\n'));
  return i < 0 ? null : i + 1;
}

/**
 * Where an output with stop strings ends: just after the first token whose text completes one of `stops` (the
 * tokens' texts joined), or null while none is complete. The stop string stays in the output; the caller removes it
 * from the text, as OpenAI's `stop` does. Texts are per token, so a stop string whose multi-byte character is split
 * over two tokens is not seen here (each half decodes to U+FFFD); the caller's cut of the decoded text still finds it.
 */
export function stopStringCut(tokens: readonly number[], tokenText: (id: number) => string, stops: readonly string[]): number | null {
  const live = stops.filter((s) => s !== '');
  if (live.length === 0) return null;
  let text = '';
  for (let i = 0; i < tokens.length; i++) {
    const before = text.length;
    text += tokenText(tokens[i]);
    // Only a match that ends inside this token's text is new: it starts at most s.length − 1 before it.
    if (live.some((s) => text.indexOf(s, Math.max(0, before - s.length + 1)) >= 0)) return i + 1;
  }
  return null;
}

/** The first text stop of an output (the line end of single-line completions, a stop string), or null. */
export function textStopCut(
  tokens: readonly number[], tokenText: (id: number) => string, lineEnd: boolean, stops: readonly string[],
): number | null {
  const cuts = [lineEnd ? lineEndCut(tokens, tokenText) : null, stopStringCut(tokens, tokenText, stops)].filter((c) => c !== null);
  return cuts.length === 0 ? null : Math.min(...cuts);
}
