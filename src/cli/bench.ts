// `simsd bench`: every strategy in one process, on one device, on the same prompts, models and caches (reset per
// prompt), timed by the same clock (testing.md §8 "What we report"). runBench returns a plain record;
// formatBenchTable renders the human table; benchJsonLine is the one JSON document the CLI prints last.
// Arms run prompt by prompt in turn, after one untimed warm-up run each, so load drift hits every arm alike.
import { generate, withCaches, type GenerateRequest, type ModelPair } from '../decode/generate';
import { USES_DRAFT } from '../decode/auto';
import { combineStats } from '../decode/metrics';
import type { DecodeStats } from '../protocol/messages';
import type { GenerateParams } from '../protocol/request';
import type { CancelFlag } from '../model/types';

export interface BenchArm {
  readonly label: string;
  readonly request: Omit<GenerateRequest, 'maxTokens'>;
}

/** Each strategy under the static rule, and native and simsd-exact under the dynamic one (strategy/rule labels). */
export const DEFAULT_ARMS: readonly BenchArm[] = [
  { label: 'native/static', request: { strategy: 'native', rule: 'static' } },
  { label: 'native/dynamic', request: { strategy: 'native', rule: 'dynamic' } },
  { label: 'simsd/static', request: { strategy: 'simsd', rule: 'static' } },
  { label: 'simsd-exact/static', request: { strategy: 'simsd-exact', rule: 'static' } },
  { label: 'simsd-exact/dynamic', request: { strategy: 'simsd-exact', rule: 'dynamic' } },
  { label: 'lookup/static', request: { strategy: 'lookup', rule: 'static' } },
];

export interface BenchOptions {
  readonly prompts: readonly (readonly number[])[];
  readonly maxTokens: number;
  readonly base?: Omit<GenerateParams, 'strategy' | 'maxTokens'>; // shared by every arm (temperature, seed, τ, stop ids…)
  readonly arms?: readonly BenchArm[];                             // default DEFAULT_ARMS (those needing no draft without one)
  readonly warmup?: boolean;                                       // default true
}

export interface BenchArmResult {
  readonly strategy: DecodeStats['strategy'];
  readonly tokPerS: number;
  readonly acceptLength: number | null;          // mean tokens made final per target verification
  readonly acceptHistogram: readonly number[];
  readonly matchRate: number | null;             // weighted by tokens
  readonly targetForwardsPerToken: number;
  readonly draftForwardsPerToken: number;
  readonly targetRowsPerForward: number | null;  // window rows, the unit a forward's cost is measured in
  readonly draftRowsPerForward: number | null;
  readonly identicalToTarget: number;            // share of prompts whose output equals native/static's
  readonly identicalToNative: number;            // … equals the native strategy of the arm's reveal rule
  readonly speedupVsStatic: number | null;       // tokPerS / native/static's
  readonly speedupVsDynamic: number | null;      // tokPerS / native/dynamic's
  readonly newTokens: number;
  readonly decodeMs: number;
  readonly prefillMs: number;
}

export interface BenchReport {
  readonly prompts: number;
  readonly maxTokens: number;
  readonly arms: Readonly<Record<string, BenchArmResult>>;
}

const STATIC_LABEL = 'native/static';
const DYNAMIC_LABEL = 'native/dynamic';

function armsFor(models: ModelPair, options: BenchOptions): BenchArm[] {
  const wanted = options.arms ?? DEFAULT_ARMS;
  const usable = wanted.filter((a) => models.draft !== undefined || a.request.strategy === 'auto' || !USES_DRAFT[a.request.strategy]);
  // Identity is measured against native static decoding on the target: always run it.
  return usable.some((a) => a.label === STATIC_LABEL) ? usable : [DEFAULT_ARMS[0], ...usable];
}

/** The label of the native arm with the same reveal rule (for identicalToNative). */
function nativeLabel(arm: BenchArm): string {
  return arm.request.rule === 'dynamic' ? DYNAMIC_LABEL : STATIC_LABEL;
}

export async function runBench(models: ModelPair, options: BenchOptions, signal?: CancelFlag): Promise<BenchReport> {
  const arms = armsFor(models, options);
  const stats = new Map<string, DecodeStats[]>(arms.map((a) => [a.label, []]));
  const outputs = new Map<string, string[]>(arms.map((a) => [a.label, []]));
  await withCaches(models, async (caches) => {
    const once = (arm: BenchArm, prompt: readonly number[]) => {
      caches.target.truncate(0);
      caches.draft?.truncate(0);
      return generate(models, caches, prompt, { ...options.base, ...arm.request, maxTokens: options.maxTokens }, signal);
    };
    if ((options.warmup ?? true) && options.prompts.length > 0) {
      for (const arm of arms) await once(arm, options.prompts[0]);
    }
    for (const prompt of options.prompts) {
      for (const arm of arms) {
        const g = await once(arm, prompt);
        stats.get(arm.label)?.push(g.stats);
        outputs.get(arm.label)?.push(`${g.finishReason}:${g.tokenIds.join(',')}`);
      }
    }
  });
  const combined = new Map(arms.map((a) => [a.label, combineStats(stats.get(a.label) ?? [])]));
  const rate = (label: string) => combined.get(label)?.tokPerS ?? null;
  const identical = (label: string, reference: string) => {
    const ref = outputs.get(reference);
    const mine = outputs.get(label) ?? [];
    if (ref === undefined || mine.length === 0) return 0;
    return mine.filter((o, i) => o === ref[i]).length / mine.length;
  };
  const result: Record<string, BenchArmResult> = {};
  for (const arm of arms) {
    const s = combined.get(arm.label);
    if (s === undefined) continue;
    const ratio = (label: string) => { const r = rate(label); return r !== null && r > 0 ? s.tokPerS / r : null; };
    result[arm.label] = {
      strategy: s.strategy,
      tokPerS: s.tokPerS,
      acceptLength: s.acceptLength?.mean ?? null,
      acceptHistogram: s.acceptLength?.histogram ?? [],
      matchRate: s.matchRate,
      targetForwardsPerToken: s.targetForwardsPerToken,
      draftForwardsPerToken: s.draftForwardsPerToken,
      targetRowsPerForward: s.targetForwards > 0 ? s.targetRows / s.targetForwards : null,
      draftRowsPerForward: s.draftForwards > 0 ? s.draftRows / s.draftForwards : null,
      identicalToTarget: identical(arm.label, STATIC_LABEL),
      identicalToNative: identical(arm.label, outputs.has(nativeLabel(arm)) ? nativeLabel(arm) : STATIC_LABEL),
      speedupVsStatic: ratio(STATIC_LABEL),
      speedupVsDynamic: ratio(DYNAMIC_LABEL),
      newTokens: s.newTokens,
      decodeMs: s.decodeMs,
      prefillMs: s.prefillMs,
    };
  }
  return { prompts: options.prompts.length, maxTokens: options.maxTokens, arms: result };
}

const fixed = (v: number | null, digits: number) => (v === null ? '—' : v.toFixed(digits));

/** The human table: one row per arm. */
export function formatBenchTable(report: BenchReport): string {
  const header = ['arm', 'tok/s', '×static', '×dynamic', 'accept len', 'match', 'target fwd/tok', 'draft fwd/tok', 'identical', 'tokens'];
  const rows = Object.entries(report.arms).map(([label, a]) => [
    label, fixed(a.tokPerS, 1), fixed(a.speedupVsStatic, 2), fixed(a.speedupVsDynamic, 2), fixed(a.acceptLength, 2),
    fixed(a.matchRate, 2), fixed(a.targetForwardsPerToken, 3), fixed(a.draftForwardsPerToken, 3),
    `${Math.round(a.identicalToTarget * report.prompts)}/${report.prompts}`, String(a.newTokens),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    `${report.prompts} prompts, ${report.maxTokens} tokens each; identical = output equal to native/static on the target`,
    line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line),
  ].join('\n');
}

/** The one JSON document the CLI prints on the last stdout line (testing.md §8). */
export function benchJsonLine(report: BenchReport, meta: { readonly device: string; readonly ep: string; readonly precision: string; readonly models: Readonly<Record<string, string>> }): string {
  return JSON.stringify({ ...meta, prompts: report.prompts, maxTokens: report.maxTokens, strategy: report.arms });
}
