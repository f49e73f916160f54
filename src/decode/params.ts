// Generation parameters as a request carries them (protocol/request.ts), validated into DecodeParams against the
// models: user input raises a RequestError that says what to change.
import { RequestError } from '../model/errors';
import { SAMPLING_TOP_K, type SdarConfig } from '../model/types';
import type { GenerateParams } from '../protocol/request';
import { dynamicRule, staticRule } from './reveal';
import type { DecodeParams } from './types';

export const DEFAULT_THRESHOLD = 0.9;
export const MAX_BLOCKS_PER_VERIFY = 8;

/** Checks `params` against the target (and the draft, when the strategy uses one). */
export function resolveParams(params: GenerateParams, target: SdarConfig, draft: SdarConfig | null): DecodeParams {
  const bl = target.blockLength;
  const fail = (what: string) => new RequestError(what);
  const integer = (name: string, v: number, min: number, max: number) => {
    if (!Number.isSafeInteger(v) || v < min || v > max) throw fail(`${name} must be an integer in [${min}, ${max}], got ${v}`);
    return v;
  };
  const maxTokens = integer('maxTokens', params.maxTokens, 0, Number.MAX_SAFE_INTEGER);
  const steps = integer('stepsPerBlock', params.stepsPerBlock ?? bl, 1, bl);
  if (bl % steps !== 0) throw fail(`stepsPerBlock (${steps}) must divide the block length (${bl})`);
  const threshold = params.threshold ?? DEFAULT_THRESHOLD;
  if (!(threshold >= 0 && threshold <= 1)) throw fail(`threshold must be in [0, 1], got ${threshold}`);
  const temperature = params.temperature ?? 0;
  if (!(temperature >= 0 && Number.isFinite(temperature))) throw fail(`temperature must be ≥ 0, got ${temperature}`);
  const topK = integer('topK', params.topK ?? SAMPLING_TOP_K, 1, SAMPLING_TOP_K);
  const seed = integer('seed', params.seed ?? 0, 0, 0xffffffff);
  const blocksPerVerify = integer('blocksPerVerify', params.blocksPerVerify ?? 1, 1, MAX_BLOCKS_PER_VERIFY);
  const rule = params.rule ?? 'static';
  if (rule !== 'static' && rule !== 'dynamic') throw fail(`rule must be static or dynamic, got ${String(rule)}`);
  for (const id of params.stopIds ?? []) integer('a stop id', id, 0, target.vocabSize - 1);
  if (draft !== null) {
    if (draft.blockLength !== bl) throw fail(`the draft's block length (${draft.blockLength}) differs from the target's (${bl})`);
    if (draft.maskTokenId !== target.maskTokenId) throw fail(`the draft's MASK id (${draft.maskTokenId}) differs from the target's (${target.maskTokenId})`);
    if (draft.vocabSize !== target.vocabSize) throw fail(`the draft's vocabulary (${draft.vocabSize}) differs from the target's (${target.vocabSize}); the pair must share a tokenizer`);
  }
  const stopIds = new Set([...(params.modelStopIds === false ? [] : target.stopIds), ...(params.stopIds ?? [])]);
  return {
    blockLength: bl,
    maskId: target.maskTokenId,
    stopIds,
    maxTokens,
    rule: rule === 'static' ? staticRule(bl, steps) : dynamicRule(bl, steps, threshold),
    sampling: temperature > 0 ? { temperature, topK, seed } : null,
    fold: params.fold ?? true,
    blocksPerVerify,
  };
}
