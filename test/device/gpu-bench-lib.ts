// The GPU bench (testing.md §10): forward cost of SDAR-1.7B- and SDAR-8B-shaped models on WebGPU with the KV cache
// on the device, fp16 and int4, against window rows and cache length; host↔device bytes per forward; and the tok/s
// each strategy would reach there, from those costs and the forward counts `simsd bench` measured on the trained
// embedded pair here (accept-stats.json). The models are random weights in the exact shapes, with fewer layers: each
// is measured at two depths and the per-layer cost extrapolated to the real depth (the extrapolation is named in the
// output). The smoke plan runs the same code on tiny shapes (CI, lavapipe): it proves the script, not the speed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertModel } from '../../src/model/convert';

import { prefilledCache, timeForward, windowInput } from '../../src/model/provider';
import { ModelSession } from '../../src/model/session';
import type { SdarConfig } from '../../src/model/types';
import type { WeightFormat } from '../../src/model/weights';
import { fixtureConfig, makeRandomWeights, sdar17bShape, sdar8bShape, SMALL, TINY, type FixtureOptions } from '../fixtures/tiny-checkpoint';

/** A model shape measured at two depths, extrapolated to `fullLayers`. */
export interface ShapePlan {
  readonly name: string;
  readonly shape: (layers: number) => FixtureOptions;
  readonly depths: readonly [number, number];
  readonly fullLayers: number;
}

export interface BenchPlan {
  readonly mode: 'full' | 'smoke';
  readonly target: ShapePlan;
  readonly draft: ShapePlan;
  readonly formats: readonly WeightFormat[];   // fp16 graphs with these weights
  readonly rows: readonly number[];
  readonly caches: readonly number[];
  readonly repeats: number;
  readonly budgetS: number;                    // no new shape × format is started after this
}

export const FULL_PLAN: BenchPlan = {
  mode: 'full',
  target: { name: 'sdar-8b', shape: sdar8bShape, depths: [1, 2], fullLayers: 36 },
  draft: { name: 'sdar-1.7b', shape: sdar17bShape, depths: [2, 4], fullLayers: 28 },
  formats: ['fp16', 'int4'],
  rows: [1, 4, 8, 16, 32, 64],
  caches: [512, 2048],
  repeats: 5,
  budgetS: 300,
};

export const SMOKE_PLAN: BenchPlan = {
  mode: 'smoke',
  target: { name: 'small', shape: (layers) => ({ ...SMALL, numLayers: layers }), depths: [1, 2], fullLayers: 3 },
  draft: { name: 'tiny', shape: (layers) => ({ ...TINY, numLayers: layers }), depths: [1, 2], fullLayers: 2 },
  formats: ['fp16', 'int4'],
  rows: [1, 4, 16],
  caches: [64, 512],
  repeats: 1,
  budgetS: 600,
};

/** One forward shape on one model: measured at both depths, extrapolated to the full depth. */
export interface ForwardCost {
  readonly rows: number;
  readonly cache: number;
  readonly capacity: number;
  readonly msAtDepth: readonly [number, number];   // medians
  readonly ms: number;                              // extrapolated to fullLayers (linear in layers)
  readonly transferBytes: number;                   // measured: host↔device bytes of one forward, KV on the device
  readonly hostCopyBytes: number;                   // computed: what the same forward moves with an fp32 cache on the host
}

export interface ModelCosts {
  readonly model: string;
  readonly weights: WeightFormat;
  readonly depths: readonly [number, number];
  readonly fullLayers: number;
  readonly convertS: number;
  readonly forwards: readonly ForwardCost[];
}

/** A strategy's tok/s there: its forwards per token and rows per forward (measured here) at the costs measured there. */
export interface StrategyEstimate {
  readonly weights: WeightFormat;
  readonly cache: number;
  readonly arm: string;
  readonly msPerToken: number;
  readonly tokPerS: number;
  readonly speedupVsStatic: number;
  readonly acceptLength: number | null;
}

export interface GpuBenchReport {
  readonly mode: BenchPlan['mode'];
  readonly device: Readonly<Record<string, string>>;
  readonly extrapolation: string;
  readonly models: ModelCosts[];
  readonly strategies: StrategyEstimate[];
  readonly acceptStats: string;
  readonly seconds: number;
  readonly skipped: string[];                      // shape × format left out when the time budget ran out
}

/** The fields of a `simsd bench --json` arm that the estimate uses. */
export interface AcceptArm {
  readonly targetForwardsPerToken: number;
  readonly draftForwardsPerToken: number;
  readonly targetRowsPerForward: number | null;
  readonly draftRowsPerForward: number | null;
  readonly acceptLength: number | null;
}

export interface GpuBenchOptions {
  readonly workDir: string;                        // converted models go here, one at a time, removed after use
  readonly acceptStats: { readonly file: string; readonly strategy: Readonly<Record<string, AcceptArm>> };
  readonly gpu: string;                            // the adapter's name where known (nvidia-smi), for the report
  readonly log: (line: string) => void;
  /** Called with the report so far after every model, so a run cut off by its time limit still leaves its data. */
  readonly onProgress?: (report: GpuBenchReport) => void;
}

export async function runGpuBench(plan: BenchPlan, o: GpuBenchOptions): Promise<GpuBenchReport> {
  const started = performance.now();
  const models: ModelCosts[] = [];
  const skipped: string[] = [];
  const report = (): GpuBenchReport => ({
    mode: plan.mode, device: deviceInfo(o.gpu), models, skipped, acceptStats: o.acceptStats.file,
    extrapolation: 'each model measured at two depths with the real widths and vocabulary; ms = fixed + fullLayers · per-layer, both from the two medians (per-layer clamped at 0)',
    strategies: estimates(plan, models, o.acceptStats.strategy), seconds: (performance.now() - started) / 1000,
  });
  for (const weights of plan.formats) {
    for (const model of [plan.draft, plan.target]) {
      if ((performance.now() - started) / 1000 > plan.budgetS) {
        skipped.push(`${model.name}/${weights}`);
        continue;
      }
      models.push(await measureModel(model, weights, plan, o));
      o.onProgress?.(report());
    }
  }
  return report();
}

async function measureModel(model: ShapePlan, weights: WeightFormat, plan: BenchPlan, o: GpuBenchOptions): Promise<ModelCosts> {
  const perDepth: { ms: Map<string, number>; bytes: Map<string, number>; capacity: Map<string, number> }[] = [];
  let convertS = 0;
  for (const layers of model.depths) {
    const config: SdarConfig = { ...fixtureConfig(model.shape(layers)), maxPositions: Math.max(...plan.caches) + Math.max(...plan.rows) };
    const dir = path.join(o.workDir, `${model.name}-${weights}-${layers}`);
    const t0 = performance.now();
    await convertModel(makeRandomWeights(config, 7), dir, { weights, precision: 'fp16', variants: ['greedy'], accuracyLevel: 4 });
    convertS += (performance.now() - t0) / 1000;
    const session = await ModelSession.open(dir, { executionProvider: 'webgpu' });
    const ms = new Map<string, number>(), bytes = new Map<string, number>(), capacity = new Map<string, number>();
    try {
      for (const cacheLength of plan.caches) {
        const cache = await prefilledCache(session, cacheLength);
        try {
          for (const rows of plan.rows) {
            const input = windowInput(config, cacheLength, rows);
            const before = session.transferredBytes;
            await session.forward(input, cache);
            const key = `${rows}/${cacheLength}`;
            bytes.set(key, session.transferredBytes - before);
            ms.set(key, (await timeForward(session, input, cache, plan.repeats)).medianMs);
            capacity.set(key, cache.capacity);
          }
        } finally {
          cache.dispose();
        }
      }
    } finally {
      await session.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    perDepth.push({ ms, bytes, capacity });
    o.log(`${model.name} ${weights} ${layers} layer(s): ${[...ms].map(([k, v]) => `${k} ${v.toFixed(2)} ms`).join(', ')}`);
  }
  const [n1, n2] = model.depths;
  const full = fixtureConfig(model.shape(model.fullLayers));
  const forwards: ForwardCost[] = [];
  for (const cacheLength of plan.caches) {
    for (const rows of plan.rows) {
      const key = `${rows}/${cacheLength}`;
      const [a, b] = [perDepth[0].ms.get(key) as number, perDepth[1].ms.get(key) as number];
      // Timing noise can make the deeper model look cheaper; a layer never costs less than nothing.
      const perLayer = Math.max(0, (b - a) / (n2 - n1));
      const cap = perDepth[1].capacity.get(key) as number;
      forwards.push({
        rows, cache: cacheLength, capacity: cap, msAtDepth: [round(a), round(b)], ms: round(a - n1 * perLayer + model.fullLayers * perLayer),
        transferBytes: perDepth[1].bytes.get(key) as number, hostCopyBytes: hostCopyBytes(full, cap, rows),
      });
    }
  }
  return { model: model.name, weights, depths: model.depths, fullLayers: model.fullLayers, convertS: round(convertS), forwards };
}

/** Bytes a forward moves with an fp32 cache on the host: the whole cache up, the window's new K/V down. */
export function hostCopyBytes(config: SdarConfig, capacity: number, rows: number): number {
  const perSlot = 2 * config.numLayers * config.numKvHeads * config.headDim * 4;
  return perSlot * (capacity + rows);
}

/** Per weight format and cache: ms per token = Σ forwards per token · cost at the mean rows per forward. */
export function estimates(plan: BenchPlan, models: readonly ModelCosts[], arms: Readonly<Record<string, AcceptArm>>): StrategyEstimate[] {
  const out: StrategyEstimate[] = [];
  for (const weights of plan.formats) {
    const target = models.find((m) => m.model === plan.target.name && m.weights === weights);
    const draft = models.find((m) => m.model === plan.draft.name && m.weights === weights);
    if (!target || !draft) continue;
    for (const cache of plan.caches) {
      const msOf = (arm: AcceptArm) => arm.targetForwardsPerToken * costAt(target, cache, arm.targetRowsPerForward ?? 0)
        + arm.draftForwardsPerToken * costAt(draft, cache, arm.draftRowsPerForward ?? 0);
      const staticMs = arms['native/static'] ? msOf(arms['native/static']) : NaN;
      for (const [arm, a] of Object.entries(arms)) {
        const ms = msOf(a);
        out.push({ weights, cache, arm, msPerToken: round(ms), tokPerS: round(1000 / ms), speedupVsStatic: round(staticMs / ms), acceptLength: a.acceptLength });
      }
    }
  }
  return out;
}

/** The forward cost at `rows` rows (fractional: a mean), linear between the measured row counts, clamped at the ends. */
export function costAt(model: ModelCosts, cache: number, rows: number): number {
  const points = model.forwards.filter((f) => f.cache === cache).sort((a, b) => a.rows - b.rows);
  if (rows <= 0 || points.length === 0) return 0;
  if (rows <= points[0].rows) return points[0].ms;
  for (let i = 1; i < points.length; i++) {
    const [p, q] = [points[i - 1], points[i]];
    if (rows <= q.rows) return p.ms + (q.ms - p.ms) * (rows - p.rows) / (q.rows - p.rows);
  }
  return points[points.length - 1].ms;
}

function deviceInfo(gpu: string): Record<string, string> {
  return { gpu, cpu: `${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}`, platform: `${process.platform}-${process.arch}`, node: process.version };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
