// Metrics per generation (docs/decoding.md §8). Pure: counters and verification records in, a plain record out.
// Tokens are counted only up to the stop: positions at or after `cutoff` (the stop id, tokens after it, or
// tokens past the budget) count neither as accepted nor as drafted.
import type { DecodeStats } from '../protocol/messages';
import type { StrategyName } from '../protocol/request';
import type { LaneCounter, VerificationRecord } from './types';

export interface MetricsInput {
  readonly strategy: StrategyName;
  readonly newTokens: number;
  readonly cutoff: number;                // absolute position of the first slot not emitted
  readonly target: LaneCounter;
  readonly draft: LaneCounter | null;
  readonly verifications: readonly VerificationRecord[];
  readonly prefillTokens: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
}

function countBelow(positions: Int32Array, cutoff: number): number {
  let n = 0;
  for (const p of positions) if (p < cutoff) n++;
  return n;
}

function perToken(count: number, tokens: number): number {
  return tokens > 0 ? count / tokens : 0;
}

export function summarize(m: MetricsInput): DecodeStats {
  const histogram: number[] = [];
  let drafted = 0;
  let matched = 0;
  for (const v of m.verifications) {
    const n = countBelow(v.accepted, m.cutoff);
    while (histogram.length <= n) histogram.push(0);
    histogram[n] += 1;
    drafted += countBelow(v.drafted, m.cutoff);
    matched += countBelow(v.matched, m.cutoff);
  }
  const draftForwards = m.draft?.forwards ?? 0;
  return {
    strategy: m.strategy,
    newTokens: m.newTokens,
    targetForwards: m.target.forwards,
    draftForwards,
    targetRows: m.target.rows,
    draftRows: m.draft?.rows ?? 0,
    cleanPasses: m.target.cleanPasses,
    foldedCleanPasses: m.target.foldedCleanPasses,
    verifications: m.verifications.length,
    acceptLength: m.verifications.length > 0 ? { mean: histogramMean(histogram), histogram } : null,
    draftedTokens: drafted,
    matchedTokens: matched,
    matchRate: drafted > 0 ? matched / drafted : null,
    targetForwardsPerToken: perToken(m.target.forwards, m.newTokens),
    draftForwardsPerToken: perToken(draftForwards, m.newTokens),
    prefillTokens: m.prefillTokens,
    prefillMs: m.prefillMs,
    decodeMs: m.decodeMs,
    tokPerS: m.decodeMs > 0 ? (1000 * m.newTokens) / m.decodeMs : 0,
  };
}

function histogramMean(histogram: readonly number[]): number {
  let count = 0;
  let sum = 0;
  histogram.forEach((h, n) => { count += h; sum += h * n; });
  return count > 0 ? sum / count : 0;
}

/** Totals over several generations of one strategy (the bench): sums, then the ratios of the sums. */
export function combineStats(all: readonly DecodeStats[]): DecodeStats {
  if (all.length === 0) throw new Error('internal: no stats to combine');
  const sum = (f: (s: DecodeStats) => number) => all.reduce((a, s) => a + f(s), 0);
  const histogram: number[] = [];
  for (const s of all) {
    (s.acceptLength?.histogram ?? []).forEach((h, n) => {
      while (histogram.length <= n) histogram.push(0);
      histogram[n] += h;
    });
  }
  const newTokens = sum((s) => s.newTokens);
  const drafted = sum((s) => s.draftedTokens);
  const matched = sum((s) => s.matchedTokens);
  const decodeMs = sum((s) => s.decodeMs);
  const verifications = sum((s) => s.verifications);
  return {
    strategy: all[0].strategy,
    newTokens,
    targetForwards: sum((s) => s.targetForwards),
    draftForwards: sum((s) => s.draftForwards),
    targetRows: sum((s) => s.targetRows),
    draftRows: sum((s) => s.draftRows),
    cleanPasses: sum((s) => s.cleanPasses),
    foldedCleanPasses: sum((s) => s.foldedCleanPasses),
    verifications,
    acceptLength: verifications > 0 ? { mean: histogramMean(histogram), histogram } : null,
    draftedTokens: drafted,
    matchedTokens: matched,
    matchRate: drafted > 0 ? matched / drafted : null,
    targetForwardsPerToken: perToken(sum((s) => s.targetForwards), newTokens),
    draftForwardsPerToken: perToken(sum((s) => s.draftForwards), newTokens),
    prefillTokens: sum((s) => s.prefillTokens),
    prefillMs: sum((s) => s.prefillMs),
    decodeMs,
    tokPerS: decodeMs > 0 ? (1000 * newTokens) / decodeMs : 0,
  };
}
