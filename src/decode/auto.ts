// The `auto` choice (docs/decoding.md §7): pick, for the device and model pair at hand, the strategy with the best
// measured tokens/s, so that speculation is never slower than plain decoding. Pure: estimates in, a name out.
// The estimates start from a short calibration at load (calibrate.ts) and follow the latest generations by an
// exponential moving average of tokens and decode time.
import type { DecodeStats } from '../protocol/messages';
import type { StrategyName } from '../protocol/request';

export interface AutoEstimate {
  readonly tokens: number;       // moving average of emitted tokens per generation
  readonly ms: number;           // moving average of decode time per generation
  readonly generations: number;  // generations seen
}

export type AutoEstimates = Readonly<Partial<Record<StrategyName, AutoEstimate>>>;

/** Strategies that run a draft model next to the target (`lookup` drafts from the context, with no model). */
export const USES_DRAFT: Readonly<Record<StrategyName, boolean>> = { 'native': false, 'simsd': true, 'simsd-exact': true, 'lookup': false };

/** A speculative strategy must beat native decoding by this fraction before auto picks it. */
export const AUTO_MARGIN = 0.05;
/** Weight of the latest generation in the moving average. */
export const AUTO_WEIGHT = 0.3;

export function estimatedTokPerS(e: AutoEstimate | undefined): number | null {
  return e !== undefined && e.ms > 0 ? (1000 * e.tokens) / e.ms : null;
}

/**
 * The candidate with the highest estimated tokens/s. The baseline (native decoding) is kept unless it has an
 * estimate and another candidate beats it by more than `margin`: without evidence, never speculate.
 */
export function chooseStrategy(
  estimates: AutoEstimates, candidates: readonly StrategyName[], baseline: StrategyName, margin = AUTO_MARGIN,
): StrategyName {
  const base = estimatedTokPerS(estimates[baseline]);
  if (base === null) return baseline;
  let best = baseline;
  let bestRate = base * (1 + margin);
  for (const name of candidates) {
    const rate = estimatedTokPerS(estimates[name]);
    if (name !== baseline && rate !== null && rate > bestRate) { best = name; bestRate = rate; }
  }
  return best;
}

/** Folds one generation's stats into the estimates (a generation with no token teaches nothing about speed). */
export function updateEstimates(estimates: AutoEstimates, stats: DecodeStats, weight = AUTO_WEIGHT): AutoEstimates {
  if (stats.newTokens === 0 || stats.decodeMs <= 0) return estimates;
  const old = estimates[stats.strategy];
  const next: AutoEstimate = old === undefined
    ? { tokens: stats.newTokens, ms: stats.decodeMs, generations: 1 }
    : {
      tokens: (1 - weight) * old.tokens + weight * stats.newTokens,
      ms: (1 - weight) * old.ms + weight * stats.decodeMs,
      generations: old.generations + 1,
    };
  return { ...estimates, [stats.strategy]: next };
}

/** What auto may pick: the requested list, or the lossless ones (native, lookup, simsd-exact); without a draft, those that need none. */
export function autoCandidates(requested: readonly StrategyName[] | undefined, hasDraft: boolean): StrategyName[] {
  return (requested ?? ['native', 'lookup', 'simsd-exact']).filter((name) => hasDraft || !USES_DRAFT[name]);
}
