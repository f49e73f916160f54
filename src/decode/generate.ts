// The decode driver: prefill both models, then run rounds of one strategy until a stop id, the token budget or
// cancellation (simsd.md §1.4, §5.3). Called by the engine's worker and by the CLI (`simsd generate`, `bench`).
// After it returns, each cache holds exactly the K/V of (promptIds ++ tokenIds)[0, cache.length), in whole blocks,
// so the engine's prefix cache can keep it.
import { CancelledError, RequestError } from '../model/errors';
import type { KvCache } from '../model/kv';
import type { CancelFlag, ForwardModel, SdarConfig } from '../model/types';
import { chooseStrategy, autoCandidates, type AutoEstimates } from './auto';
import { budgetLeft, initialState, cutOutput } from './canvas';
import { prefill } from './forwards';
import { summarize, type DecodeStats } from './metrics';
import { resolveParams, type GenerateParams } from './params';
import { NATIVE_FOR_RULE, STRATEGIES, USES_DRAFT } from './strategies';
import {
  type DecodeState, type FinishReason, type Lane, type StrategyName, type VerificationRecord,
} from './types';

export interface ModelPair {
  readonly target: ForwardModel;
  readonly draft?: ForwardModel;
}

export interface CachePair {
  readonly target: KvCache;
  readonly draft?: KvCache;
}

export interface GenerateRequest extends GenerateParams {
  /** For strategy 'auto': the running tokens/s estimates (auto.ts); without them auto picks native decoding. */
  readonly autoEstimates?: AutoEstimates;
  /** For strategy 'auto': the strategies it may pick; default the native one for `rule` and simsd-exact. */
  readonly autoCandidates?: readonly StrategyName[];
}

/** Streamed after every round that emits tokens, and once at the end. */
export interface Progress {
  readonly tokens: readonly number[];   // tokens emitted since the previous progress
  readonly emitted: number;             // tokens emitted so far
  readonly done: FinishReason | null;
}

export interface Generation {
  readonly tokenIds: Int32Array;        // the output, a stop id excluded
  readonly finishReason: FinishReason;
  readonly stats: DecodeStats;
}

/** The strategy a request runs: its own, or for 'auto' the choice from the running estimates. */
export function strategyFor(request: GenerateRequest, hasDraft: boolean): StrategyName {
  if (request.strategy !== 'auto') return request.strategy;
  const native = NATIVE_FOR_RULE[request.rule ?? 'static'];
  const candidates = autoCandidates(request.autoCandidates, request.rule ?? 'static', hasDraft);
  return chooseStrategy(request.autoEstimates ?? {}, candidates, native);
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
  const needed = Math.ceil((promptIds.length + maxTokens) / bl) * bl + (blocksPerVerify - 1) * bl;
  if (needed > positions) {
    throw new RequestError(`a prompt of ${promptIds.length} tokens and up to ${maxTokens} new tokens need ${needed} positions, but the model has ${positions} (max_position_embeddings); shorten the prompt or lower the token budget`);
  }
}

export async function generate(
  models: ModelPair, caches: CachePair, promptIds: ArrayLike<number>, request: GenerateRequest, signal?: CancelFlag,
  onProgress?: (progress: Progress) => void,
): Promise<Generation> {
  const hasDraft = models.draft !== undefined && caches.draft !== undefined;
  const strategy = strategyFor(request, hasDraft);
  const usesDraft = USES_DRAFT[strategy];
  if (usesDraft && !hasDraft) throw new RequestError(`strategy ${strategy} needs a draft model; pick vanilla-static or vanilla-dynamic, or configure a draft`);
  const draftModel = usesDraft ? models.draft ?? null : null;
  const params = resolveParams(request, models.target.config, draftModel?.config ?? null);
  checkPrompt(promptIds, params.maxTokens, params.blocksPerVerify, [models.target.config, ...(draftModel ? [draftModel.config] : [])]);
  for (const m of [models.target, draftModel]) {
    if (params.sampling !== null && m !== null && m.variant !== 'sampling') {
      throw new RequestError(`temperature ${params.sampling.temperature} needs the models' sampling variant (got ${m.variant}); use temperature 0 or load the sampling graph`);
    }
  }

  const newLane = (model: ForwardModel, cache: KvCache): Lane => ({ model, cache, counter: { forwards: 0, rows: 0, cleanPasses: 0, foldedCleanPasses: 0 } });
  const target = newLane(models.target, caches.target);
  const draft = draftModel !== null && caches.draft ? newLane(draftModel, caches.draft) : null;
  const ctx = { target, draft, params, signal };
  const round = STRATEGIES[strategy];
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
      const emitted = [...state.output, ...cut.tokens];
      finish = cut.reason ?? (signal?.cancelled ? 'cancelled' : null);
      if (emitted.length > tokens.length || finish !== null) onProgress?.({ tokens: emitted.slice(tokens.length), emitted: emitted.length, done: finish });
      tokens = emitted;
      if (finish !== null) break;
      const result = await round(ctx, state);
      state = result.state;
      if (result.verification !== null) verifications.push(result.verification);
    }
  } catch (err) {
    if (!(err instanceof CancelledError)) throw err;
    finish = 'cancelled';
    onProgress?.({ tokens: [], emitted: tokens.length, done: finish });
  } finally {
    // Keep only whole blocks that are final: an interrupted round may have committed ahead of `state`.
    for (const lane of [target, draft]) lane?.cache.truncate(Math.min(lane.cache.length, state.blockStart));
  }

  const decodeMs = performance.now() - decodeStarted;
  const stats = summarize({
    strategy, newTokens: tokens.length, cutoff: promptIds.length + tokens.length, target: target.counter,
    draft: draft?.counter ?? null, verifications, prefillTokens, prefillMs: decodeStarted - started,
    decodeMs,
  });
  return { tokenIds: Int32Array.from(tokens), finishReason: finish ?? 'cancelled', stats };
}
