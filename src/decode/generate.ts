// Decoding, readable in one place (docs/decoding.md): the driver generate() prefills both models, then advances the
// canvas until a stop id, a line end (single-line completions), a stop string, the token budget or cancellation; each
// advance is a native denoising step or a speculative round (draft, one verify forward, accept, commit, roll back); at
// the bottom, the forwards both are made of. The strategies differ only in that choice and, for speculation, in the verifier
// (verify.ts). Pure pieces live beside it: window.ts (window rows), canvas.ts, masks.ts, reveal.ts, acceptance.ts,
// noise.ts. Called by the engine and the CLI. After generate() returns, each cache holds exactly the K/V of
// (promptIds ++ tokenIds)[0, cache.length), in whole blocks, so the engine's prefix cache can keep it.
import { CancelledError, RequestError } from '../model/errors';
import type { KvCache } from '../model/types';
import type { CancelFlag, ForwardModel, ForwardOptions, SdarConfig } from '../model/types';
import type { DecodeStats } from '../protocol/messages';
import type { FinishReason, GenerateParams, StrategyName } from '../protocol/request';
import { applyChoice } from './acceptance';
import { autoCandidates, chooseStrategy, USES_DRAFT, type AutoEstimates } from './auto';
import { budgetLeft, countHoles, cutOutput, emptyCanvas, holesOf, initialState, isFinal, nextBlock, textStopCut } from './canvas';
import { lookupBlock } from './lookup';
import { blockCausalMask, fullMask } from './masks';
import { summarize } from './metrics';
import { resolveParams } from './params';
import type { Advance, DecodeContext, DecodeState, Lane, PendingBlock, RevealRule, StepChoice, Strategy, VerificationRecord } from './types';
import { greedyMatchVerifier, stateCopyVerifier, type DraftedBlock, type Verifier } from './verify';
import {
  assembleWindow, blockPositions, cleanPart, partRows, pendingFirst, stepChoice, type WindowPart, type WindowRun,
} from './window';

export interface ModelPair {
  readonly target: ForwardModel;
  readonly draft?: ForwardModel;
}

export interface CachePair {
  readonly target: KvCache;
  readonly draft?: KvCache;
}

/** Empty caches of the kind each model takes (on the device for a WebGPU session). */
export async function createCaches(models: ModelPair): Promise<CachePair> {
  return { target: await models.target.createCache(), draft: models.draft ? await models.draft.createCache() : undefined };
}

/** Runs `use` on fresh caches and frees them afterwards (device memory is not garbage-collected). */
export async function withCaches<T>(models: ModelPair, use: (caches: CachePair) => Promise<T>): Promise<T> {
  const caches = await createCaches(models);
  try {
    return await use(caches);
  } finally {
    caches.target.dispose();
    caches.draft?.dispose();
  }
}

/** The request's parameters plus what only the engine side can supply. */
export interface GenerateRequest extends GenerateParams {
  /** For strategy 'auto': the running tokens/s estimates (auto.ts); without them auto picks native decoding. */
  readonly autoEstimates?: AutoEstimates;
  /** For strategy 'auto': the strategies it may pick; default native and simsd-exact. */
  readonly autoCandidates?: readonly StrategyName[];
  /** The text of one token, for `stopAtLineEnd` and `stopStrings` (the tokenizer's decode of a single id). */
  readonly tokenText?: (id: number) => string;
}

/** Streamed after every call of the strategy that emits tokens, and once at the end. */
export interface Progress {
  readonly tokens: readonly number[];   // tokens emitted since the previous progress
  readonly done: FinishReason | null;
}

export interface Generation {
  readonly tokenIds: readonly number[]; // the output, a stop id excluded
  readonly finishReason: FinishReason;
  readonly stats: DecodeStats;
}

/** A strategy name → one advance. Every strategy follows the request's reveal rule: {native, simsd, simsd-exact} × {static, dynamic}. */
export const STRATEGIES: Readonly<Record<StrategyName, Strategy>> = {
  'native': nativeStep,
  'simsd': (ctx, state) => speculativeRound(ctx, state, greedyMatchVerifier),
  'simsd-exact': (ctx, state) => speculativeRound(ctx, state, stateCopyVerifier),
  'lookup': lookupRound,
};


/** The strategy a request runs: its own, or for 'auto' the choice from the running estimates. */
export function strategyFor(request: GenerateRequest, hasDraft: boolean): StrategyName {
  if (request.strategy !== 'auto') return request.strategy;
  return chooseStrategy(request.autoEstimates ?? {}, autoCandidates(request.autoCandidates, hasDraft), 'native');
}

/**
 * Refuses, before any work, a prompt with ids outside the vocabulary (they would reach the embedding Gather) or a
 * prompt and output that cannot fit the models' positions (RoPE tables end at max_position_embeddings): the last
 * canvas ends on a block boundary, and K blocks per verification draft up to K − 1 blocks further.
 */
export function checkPrompt(promptIds: ArrayLike<number>, maxTokens: number, blocksPerVerify: number, configs: readonly SdarConfig[]): void {
  const vocab = Math.min(...configs.map((c) => c.vocabSize));
  for (let i = 0; i < promptIds.length; i++) {
    const id = promptIds[i];
    if (!Number.isSafeInteger(id) || id < 0 || id >= vocab) throw new RequestError(`prompt token ${i} is ${id}, outside the vocabulary [0, ${vocab})`);
  }
  const bl = configs[0].blockLength;
  const positions = Math.min(...configs.map((c) => c.maxPositions));
  const needed = positionsNeeded(promptIds.length, maxTokens, bl, blocksPerVerify);
  if (needed > positions) {
    throw new RequestError(`a prompt of ${promptIds.length} tokens and up to ${maxTokens} new tokens need ${needed} positions, but the model has ${positions} (max_position_embeddings); shorten the prompt or lower the token budget`);
  }
}

/** Positions a generation may touch: the last canvas ends on a block edge, and K blocks per verification draft K − 1 further. */
export function positionsNeeded(promptTokens: number, maxTokens: number, blockLength: number, blocksPerVerify: number): number {
  return Math.ceil((promptTokens + maxTokens) / blockLength) * blockLength + (blocksPerVerify - 1) * blockLength;
}

/** The longest prompt for which positionsNeeded stays within `positions` (0 when none fits). */
export function promptRoom(positions: number, maxTokens: number, blockLength: number, blocksPerVerify: number): number {
  const usable = Math.floor((positions - (blocksPerVerify - 1) * blockLength) / blockLength) * blockLength;
  return Math.max(0, usable - maxTokens);
}

export async function generate(
  models: ModelPair, caches: CachePair, promptIds: readonly number[], request: GenerateRequest, signal?: CancelFlag,
  onProgress?: (progress: Progress) => void,
): Promise<Generation> {
  const hasDraft = models.draft !== undefined && caches.draft !== undefined;
  const strategy = strategyFor(request, hasDraft);
  const usesDraft = USES_DRAFT[strategy];
  if (usesDraft && !hasDraft) throw new RequestError(`strategy ${strategy} needs a draft model; pick native, or configure a draft`);
  const draftModel = usesDraft ? models.draft ?? null : null;
  const params = resolveParams(request, models.target.config, draftModel?.config ?? null);
  checkPrompt(promptIds, params.maxTokens, params.blocksPerVerify, [models.target.config, ...(draftModel ? [draftModel.config] : [])]);
  for (const m of [models.target, draftModel]) {
    if (params.sampling !== null && m !== null && m.variant !== 'sampling') {
      throw new RequestError(`temperature ${params.sampling.temperature} needs the models' sampling variant (got ${m.variant}); use temperature 0 or load the sampling graph`);
    }
  }
  const lineEnd = request.stopAtLineEnd === true;
  const stops = request.stopStrings ?? [];
  const tokenText = lineEnd || stops.length > 0 ? request.tokenText : undefined;
  if ((lineEnd || stops.length > 0) && tokenText === undefined) throw new Error('internal: stopAtLineEnd and stopStrings need tokenText');

  const newLane = (model: ForwardModel, cache: KvCache): Lane => ({ model, cache, counter: { forwards: 0, rows: 0, cleanPasses: 0, foldedCleanPasses: 0 } });
  const target = newLane(models.target, caches.target);
  const draft = draftModel !== null && caches.draft ? newLane(draftModel, caches.draft) : null;
  const ctx = { target, draft, params, signal, promptIds };
  const advance = STRATEGIES[strategy];
  const verifications: VerificationRecord[] = [];
  let state: DecodeState = initialState(promptIds, params);
  let prefillTokens = 0;
  let tokens: number[] = [];
  let finish: FinishReason | null = null;
  const started = performance.now();
  let decodeStarted = started;
  try {
    prefillTokens = (await prefill(target.model, target.cache, promptIds, signal)).committedTokens;
    if (draft !== null) await prefill(draft.model, draft.cache, promptIds, signal);
    decodeStarted = performance.now();
    while (finish === null) {
      const cut = cutOutput(state.canvas, state.firstGenerated, budgetLeft(state, params), params);
      let emitted = [...state.output, ...cut.tokens];
      finish = cut.reason;
      const textStop = tokenText === undefined ? null : textStopCut(emitted, tokenText, lineEnd, stops);
      if (textStop !== null) {
        emitted = emitted.slice(0, textStop);
        finish = 'stop';
      }
      finish ??= signal?.cancelled ? 'cancelled' : null;
      if (emitted.length > tokens.length || finish !== null) onProgress?.({ tokens: emitted.slice(tokens.length), done: finish });
      tokens = emitted;
      if (finish !== null) break;
      const result = await advance(ctx, state);
      state = result.state;
      if (result.verification !== null) verifications.push(result.verification);
    }
  } catch (err) {
    if (!(err instanceof CancelledError)) throw err;
    finish = 'cancelled';
    onProgress?.({ tokens: [], done: finish });
  } finally {
    // Keep only whole blocks that are final and emitted: an interrupted round may have committed ahead of `state`,
    // and a line end or a stop string may cut the output inside a block already committed.
    const keep = Math.min(state.blockStart, Math.floor((promptIds.length + tokens.length) / params.blockLength) * params.blockLength);
    for (const lane of [target, draft]) lane?.cache.truncate(Math.min(lane.cache.length, keep));
  }

  const decodeMs = performance.now() - decodeStarted;
  const stats = summarize({
    strategy, newTokens: tokens.length, cutoff: promptIds.length + tokens.length, target: target.counter,
    draft: draft?.counter ?? null, verifications, prefillTokens, prefillMs: decodeStarted - started,
    decodeMs,
  });
  return { tokenIds: tokens, finishReason: finish ?? 'cancelled', stats };
}

/**
 * Native SDAR block decoding (docs/decoding.md §1): one denoising step on the target with the request's reveal rule;
 * when the canvas is full, its clean pass is folded into the next step (default) or run now. Its output is the correct
 * output every speculative strategy is measured against.
 */
async function nativeStep(ctx: DecodeContext, state: DecodeState): Promise<Advance> {
  const { params, target } = ctx;
  const choice = await denoiseStep(target, ctx, state.targetPending, state.blockStart, state.canvas, state.step, params.rule);
  const canvas = applyChoice(state.canvas, choice, params.maskId);
  const after: DecodeState = { ...state, canvas, step: state.step + 1, targetPending: null };
  // Early exit: a final output needs neither the remaining steps nor the clean pass.
  if (countHoles(canvas, params.maskId) > 0 || isFinal(after, params)) return { state: after, verification: null };
  const pending = await finishBlock(target, ctx, { blockStart: state.blockStart, tokens: canvas });
  return { state: nextBlock(after, params, pending, null), verification: null };
}

/**
 * One speculative round (docs/decoding.md §2–§5): the draft denoises up to K blocks, the target verifies them all in
 * one forward, acceptance runs block by block, then the target commits and the draft rolls back.
 * Window: [pending clean block B] [block 0 verification rows] [C_0] [block 1 verification rows] [C_1] … where C_j is
 * the clean copy of drafted block j (every block but the last). Block j's rows and C_j see the cache, B and C_{<j};
 * they never see the DATA/MASK rows or state copies of earlier blocks.
 */
async function speculativeRound(ctx: DecodeContext, state: DecodeState, verifier: Verifier): Promise<Advance> {
  if (ctx.draft === null) throw new Error('internal: a speculative round needs the draft');
  return verifyRound(ctx, state, verifier, await draftBlocks(ctx, ctx.draft, state, verifier.draftRule(ctx.params), verifier.draftEarlyExit));
}

/** Context lookup (docs/decoding.md §10): the guess from earlier tokens, verified exactly; a native step without one. */
async function lookupRound(ctx: DecodeContext, state: DecodeState): Promise<Advance> {
  const block = lookupBlock(ctx.promptIds, state, ctx.params);
  return block === null ? nativeStep(ctx, state) : verifyRound(ctx, state, stateCopyVerifier, [block]);
}

/** The target's side of a round: one forward verifies the drafted blocks, then acceptance, commits and the draft's rollback. */
async function verifyRound(ctx: DecodeContext, state: DecodeState, verifier: Verifier, blocks: readonly DraftedBlock[]): Promise<Advance> {
  const { params: p, target, draft } = ctx;
  const plans = blocks.map((b) => verifier.plan(b, p));

  const parts: WindowPart[] = [];
  let sees: readonly number[] = pendingFirst(target, state.targetPending, parts);
  const verifyParts: number[] = [];
  const copyParts: number[] = [];
  blocks.forEach((b, j) => {
    parts.push(plans[j].rows(sees));
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
    const v = plans[j].accept(run, run.selectOffsets[verifyParts[j]]);
    const abs = (i: number) => blocks[j].blockStart + i;
    drafted.push(...v.drafted.map(abs));
    matched.push(...v.matched.map(abs));
    accepted.push(...v.accepted.map(abs));
    st = { ...st, canvas: v.canvas, step: v.step };
    if (!v.full || j === blocks.length - 1 || isFinal(st, p)) break;
    committedByCopy += 1;
    st = nextBlock(st, p, null, null);
  }

  // Commit: the folded pending block and the clean copies of fully matched blocks. The verification rows are scratch.
  await commitPending(target, run, state.targetPending, copyParts.slice(0, committedByCopy));
  // Roll the draft back to the last final block: its later commits were optimistic.
  draft?.cache.truncate(Math.min(draft.cache.length, st.blockStart));

  const verification = { drafted: Int32Array.from(drafted), matched: Int32Array.from(matched), accepted: Int32Array.from(accepted) };
  if (countHoles(st.canvas, p.maskId) > 0 || isFinal(st, p)) return { state: st, verification };
  // The current block is full (a full match, or the correction filled its last hole): commit it on both models.
  const block = { blockStart: st.blockStart, tokens: st.canvas };
  const targetPending = await finishBlock(target, ctx, block);
  const draftPending = draft === null ? null : await finishBlock(draft, ctx, block);
  return { state: nextBlock(st, p, targetPending, draftPending), verification };
}

/**
 * The draft's side (docs/decoding.md §2.1, §3.1, §4.2): denoise the canvas, and with K > 1 the following blocks on an
 * optimistic context. Each drafted block but the last is committed in the draft's cache (its clean pass folded into
 * the next block's first step, or run separately); the round rolls that back. The draft stops early in a block once
 * the output would be final there (with `earlyExit`) and drafts no further block after a final one.
 */
async function draftBlocks(ctx: DecodeContext, draft: Lane, state: DecodeState, rule: RevealRule, earlyExit: boolean): Promise<DraftedBlock[]> {
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

// --- The forwards (docs/models.md §6): the only place that runs a model. -------------------------------------------

/** Prefill chunks hold at most this many rows (whole blocks), so cancellation can act between chunks. */
export const PREFILL_CHUNK_ROWS = 64;

function forwardOptions(ctx: DecodeContext): ForwardOptions {
  return { temperature: ctx.params.sampling?.temperature, signal: ctx.signal };
}

/** Runs one forward over the concatenated parts and counts it on the lane. Nothing is committed here. */
async function runWindow(lane: Lane, parts: readonly WindowPart[], options: ForwardOptions): Promise<WindowRun> {
  const window = assembleWindow(parts);
  const out = await lane.model.forward(window.input, lane.cache, options);
  lane.counter.forwards += 1;
  lane.counter.rows += window.input.ids.length;
  return { ...window, out };
}

/** After a forward: commit the folded pending block (part 0, if any) and the given block-sized parts, in order. */
async function commitPending(lane: Lane, run: WindowRun, pending: PendingBlock | null, extraParts: readonly number[] = []): Promise<void> {
  const rows = partRows(run, pending === null ? extraParts : [0, ...extraParts], lane.model.config.blockLength);
  if (rows.length > 0) await lane.cache.commit(run.out, rows);
  if (pending !== null) lane.counter.foldedCleanPasses += 1;
}

/** One denoising step (§1.2): the canvas sees the cache (plus the folded pending block) and itself. */
async function denoiseStep(
  lane: Lane, ctx: DecodeContext, pending: PendingBlock | null, blockStart: number, canvas: Int32Array, step: number, rule: RevealRule,
): Promise<StepChoice> {
  const parts: WindowPart[] = [];
  const sees = pendingFirst(lane, pending, parts);
  const holes = holesOf(canvas, ctx.params.maskId);
  parts.push({ ids: canvas, positions: blockPositions(blockStart, canvas.length), self: fullMask(canvas.length), sees, select: Array.from(holes) });
  const run = await runWindow(lane, parts, forwardOptions(ctx));
  await commitPending(lane, run, pending);
  return stepChoice(run.out, run.selectOffsets[parts.length - 1], holes, blockStart, step, rule, ctx.params.sampling);
}

/** A full block's commit: folded into the lane's next forward (returned as pending), or a separate clean pass now. */
async function finishBlock(lane: Lane, ctx: DecodeContext, block: PendingBlock): Promise<PendingBlock | null> {
  if (ctx.params.fold) return block;
  if (block.blockStart !== lane.cache.length) throw new Error(`internal: clean pass at ${block.blockStart}, cache at ${lane.cache.length}`);
  const run = await runWindow(lane, [cleanPart(block.blockStart, block.tokens, [])], forwardOptions(ctx));
  await lane.cache.commit(run.out, partRows(run, [0], block.tokens.length));
  lane.counter.cleanPasses += 1;
  return null;
}

export interface PrefillResult {
  readonly committedTokens: number; // prompt tokens run now (the re-prefilled tokens)
  readonly forwards: number;
}

/**
 * Prefill (§1.1): commits `ids[cache.length, aligned)`, the prompt's full blocks not yet in the cache, in chunks of
 * whole blocks (≤ 64 rows). Each chunk sees the cache plus itself, block-causally. The cache must already hold exactly
 * the K/V of `ids[0, cache.length)` (a prefix-cache hit) with a length on a block edge.
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
    await cache.commit(out, Array.from({ length: n }, (_, i) => i));
    forwards += 1;
  }
  return { committedTokens: aligned - start, forwards };
}
