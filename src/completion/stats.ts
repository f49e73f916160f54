// What the status bar and "Copy Debug Info" show: the last completion's speed and acceptance, latency
// percentiles, re-prefilled tokens and cache hit shares. Pure aggregation over completion outcomes.
import type { CompletionOutcome } from './service';

/** Latency and re-prefill percentiles cover the most recent completions. */
const RECENT = 50;

export interface StatsSnapshot {
  readonly served: number;                 // suggestions shown (model answers discarded by post-processing excluded)
  readonly zeroCall: number;               // of which served with no model call (suggestion cache, stream reuse)
  readonly modelCalls: number;
  readonly lastTokPerS: number | null;
  readonly lastAcceptLength: number | null; // tokens accepted per target verification
  readonly lastStrategy: string | null;
  readonly latencyMs: { readonly p50: number | null; readonly p90: number | null };
  readonly reprefilled: { readonly p50: number | null; readonly p95: number | null };
  readonly prefixReuse: number | null;     // share of prompt tokens served by the prefix cache
}

export class CompletionStats {
  private served = 0;
  private zeroCall = 0;
  private modelCalls = 0;
  private latencies: number[] = [];
  private prefilled: number[] = [];
  private reusedTokens = 0;
  private promptTokens = 0;
  private last: CompletionOutcome | null = null;

  record(outcome: CompletionOutcome, latencyMs: number): void {
    if (outcome.text !== null) this.served++;
    if (outcome.result === null) {
      this.zeroCall++;
      return;
    }
    this.modelCalls++;
    this.last = outcome;
    this.latencies = [...this.latencies, latencyMs].slice(-RECENT);
    this.prefilled = [...this.prefilled, outcome.result.prefix.prefilledTokens].slice(-RECENT);
    this.reusedTokens += outcome.result.prefix.reusedTokens;
    this.promptTokens += outcome.result.prefix.promptTokens;
  }

  snapshot(): StatsSnapshot {
    const stats = this.last?.result?.stats ?? null;
    return {
      served: this.served,
      zeroCall: this.zeroCall,
      modelCalls: this.modelCalls,
      lastTokPerS: stats ? stats.tokPerS : null,
      lastAcceptLength: stats?.acceptLength ? stats.acceptLength.mean : null,
      lastStrategy: stats ? stats.strategy : null,
      latencyMs: { p50: percentile(this.latencies, 0.5), p90: percentile(this.latencies, 0.9) },
      reprefilled: { p50: percentile(this.prefilled, 0.5), p95: percentile(this.prefilled, 0.95) },
      prefixReuse: this.promptTokens > 0 ? this.reusedTokens / this.promptTokens : null,
    };
  }
}

/** Nearest-rank percentile; null for no samples. */
export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
