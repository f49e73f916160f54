// Execution-provider choice (models.md §8): `auto` uses WebGPU only when it is correct and faster here. Correct: a
// self-test of the path it would run (fp16 graph, K/V on the device, a commit, a forward over the cache) matches the
// CPU's fp32 result within the fp16 tolerance on a tiny synthetic model. Faster: a forward of a decode step (one block
// over a 256-token cache) of a synthetic model shaped like the target (at most 2 of its layers, its full vocabulary) is
// timed on both, each as it would run (CPU: fp32 or int4 at level 4; WebGPU: fp16 or int4, K/V on the device). The
// probe runs in a child process (`worker.js --probe-webgpu`), because WebGPU failures can abort a process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectedTensors } from './checkpoint';
import { convertModel } from './convert';
import { ModelSession } from './session';
import type { ForwardInput, ForwardOutput, KvCache, Precision, SdarConfig, WeightSource } from './types';
import { parameterCount, type WeightFormat } from './weights';

/** What the probe found: `ok` when WebGPU is correct (and, when timed, faster); the reason in one line either way. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly reason: string;
  readonly cpuMs?: number;     // a decode-step forward of the target-shaped model, median
  readonly webgpuMs?: number;
}

/** Below this many parameters a model runs with fp32 weights on the CPU (fp16 on WebGPU); above, int4. */
export const DENSE_MAX_PARAMS = 50_000_000;

/** The weight format a model of `config` is converted to for a graph of `precision`. */
export function weightsFor(config: SdarConfig, precision: Precision): WeightFormat {
  if (parameterCount(config) > DENSE_MAX_PARAMS) return 'int4';
  return precision === 'fp16' ? 'fp16' : 'fp32';
}

/** Correctness first; then, with the target's shape, the timing that decides. */
export async function probe(targetShape: SdarConfig | null): Promise<ProbeResult> {
  const wrong = await probeWebGpu();
  if (wrong !== null) return { ok: false, reason: wrong };
  if (targetShape === null) return { ok: true, reason: 'WebGPU adapter found; the fp16 self-test matched the CPU' };
  try {
    const { cpuMs, webgpuMs } = await timeProviders(targetShape);
    const times = `a decode step of the target's shape takes ${webgpuMs.toFixed(1)} ms on WebGPU, ${cpuMs.toFixed(1)} ms on the CPU`;
    return webgpuMs < cpuMs
      ? { ok: true, reason: `WebGPU is correct and faster here: ${times}`, cpuMs, webgpuMs }
      : { ok: false, reason: `WebGPU is correct but slower here: ${times}`, cpuMs, webgpuMs };
  } catch (err) {
    return { ok: false, reason: `timing WebGPU failed: ${firstLine((err as Error).message)}` };
  }
}

/** Median ms of a decode step (one block of rows over a 256-token cache) on each provider, models as each would run them. */
export async function timeProviders(shape: SdarConfig, repeats = 5): Promise<{ cpuMs: number; webgpuMs: number }> {
  const config: SdarConfig = { ...shape, numLayers: Math.min(shape.numLayers, 2), maxPositions: Math.min(shape.maxPositions, 512), stopIds: [] };
  const dir = mkdtempSync(join(tmpdir(), 'simsd-timing-'));
  try {
    const source = syntheticWeights(config);
    const median = async (precision: Precision, ep: 'cpu' | 'webgpu') => {
      const out = join(dir, precision);
      await convertModel(source, out, { weights: weightsFor(shape, precision), precision, variants: ['greedy'], accuracyLevel: 4 });
      const model = await ModelSession.open(out, { executionProvider: ep });
      try {
        return await timeDecodeStep(model, 256, repeats);
      } finally {
        await model.close();
      }
    };
    return { cpuMs: await median('fp32', 'cpu'), webgpuMs: await median('fp16', 'webgpu') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Median ms of a forward of one block of rows over a cache of `cacheLength` committed tokens (prefilled first). */
export async function timeDecodeStep(model: ModelSession, cacheLength: number, repeats: number): Promise<number> {
  const bl = model.config.blockLength;
  const cache = await prefilledCache(model, cacheLength);
  try {
    return (await timeForward(model, windowInput(model.config, cacheLength, bl), cache, repeats)).medianMs;
  } finally {
    cache.dispose();
  }
}

/**
 * A cache holding `length` committed tokens, written by real block-causal prefill forwards in chunks of 64 rows (so a
 * device cache is filled on the device, as in a decode), with the capacity a decode at that length has (the next
 * 256-slot bucket): a timed window over it is not committed, so it needs no room.
 */
export async function prefilledCache(model: ModelSession, length: number): Promise<KvCache> {
  const { blockLength: bl, vocabSize: V } = model.config;
  const cache = await model.createCache(length);
  try {
    for (let from = 0; from < length; from += 64) {
      const n = Math.min(64, length - from);
      const out = await model.forward({
        ids: Int32Array.from({ length: n }, (_, i) => (from + i) * 7 % (V - 1)), positions: Int32Array.from({ length: n }, (_, i) => from + i),
        windowMask: Uint8Array.from({ length: n * n }, (_, k) => (Math.floor((k % n) / bl) <= Math.floor(Math.floor(k / n) / bl) ? 1 : 0)),
        selectRows: Int32Array.of(0),
      }, cache);
      await cache.commit(out, Array.from({ length: n }, (_, i) => i));
    }
    return cache;
  } catch (err) {
    cache.dispose();
    throw err;
  }
}

/** `rows` rows at positions after a cache of `cacheLength`, all visible to each other, the first block selected. */
export function windowInput(config: SdarConfig, cacheLength: number, rows: number): ForwardInput {
  return {
    ids: Int32Array.from({ length: rows }, (_, i) => (i * 31 + 3) % (config.vocabSize - 1)),
    positions: Int32Array.from({ length: rows }, (_, i) => cacheLength + i),
    windowMask: new Uint8Array(rows * rows).fill(1),
    selectRows: Int32Array.from({ length: Math.min(rows, config.blockLength) }, (_, i) => i),
  };
}

/** Median and minimum ms of `repeats` forwards of `input` over `cache`, after two warm-ups (the first run at a shape prepares kernels). */
export async function timeForward(model: ModelSession, input: ForwardInput, cache: KvCache, repeats: number): Promise<{ medianMs: number; minMs: number }> {
  const times: number[] = [];
  for (let i = 0; i < repeats + 2; i++) {
    const t0 = performance.now();
    await model.forward(input, cache);
    if (i >= 2) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)], minMs: times[0] };
}

const FP16_TOLERANCE = 1e-2; // probability difference allowed between the WebGPU and CPU runs

const PROBE_CONFIG: SdarConfig = {
  hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 128, vocabSize: 256,
  maxPositions: 64, ropeTheta: 1e6, rmsNormEps: 1e-6, blockLength: 4, maskTokenId: 255, stopIds: [254], torchDtype: 'float32',
};

/**
 * Null when WebGPU runs the fp16 path (fp16 graph, K/V kept on the device, a commit, a forward over the committed
 * cache) and agrees with the CPU's fp32 graph; otherwise why not, in one line.
 */
export async function probeWebGpu(): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), 'simsd-probe-'));
  try {
    const source = syntheticWeights(PROBE_CONFIG);
    await convertModel(source, join(dir, 'fp32'), { weights: 'fp32', variants: ['greedy'] });
    await convertModel(source, join(dir, 'fp16'), { weights: 'fp16', precision: 'fp16', variants: ['greedy'] });
    const cpu = await ModelSession.open(join(dir, 'fp32'), { executionProvider: 'cpu', threads: 1 });
    const gpu = await ModelSession.open(join(dir, 'fp16'), { executionProvider: 'webgpu' });
    try {
      const [a, b] = [await probeRun(gpu), await probeRun(cpu)];
      for (let r = 0; r < a.tokenProbs.length; r++) {
        if (!(Math.abs(a.tokenProbs[r] - b.tokenProbs[r]) <= FP16_TOLERANCE)) return `the fp16 self-test differs from the CPU at row ${r}`;
      }
      return null;
    } finally {
      await Promise.all([gpu.close(), cpu.close()]);
    }
  } catch (err) {
    return firstLine((err as Error).message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prefill two blocks and commit them, then denoise a block over that cache: the decode's three operations. */
async function probeRun(model: ModelSession): Promise<ForwardOutput> {
  const L = PROBE_CONFIG.blockLength;
  const window = (from: number, n: number, mask: Uint8Array): ForwardInput => ({
    ids: Int32Array.from({ length: n }, (_, i) => ((from + i) * 31 + 7) % 250),
    positions: Int32Array.from({ length: n }, (_, i) => from + i),
    windowMask: mask, selectRows: Int32Array.from({ length: n }, (_, i) => i),
  });
  const cache = await model.createCache();
  try {
    const blockCausal = Uint8Array.from({ length: 4 * L * L }, (_, k) => (Math.floor((k % (2 * L)) / L) <= Math.floor(Math.floor(k / (2 * L)) / L) ? 1 : 0));
    const prefill = await model.forward(window(0, 2 * L, blockCausal), cache);
    await cache.commit(prefill, Array.from({ length: 2 * L }, (_, i) => i));
    return await model.forward(window(2 * L, L, new Uint8Array(L * L).fill(1)), cache);
  } finally {
    cache.dispose();
  }
}

/** A deterministic small-valued model: enough to compare providers, meaningless as a language model. */
/**
 * Random weights of `config`'s shape (values do not matter for timing or for a CPU/GPU comparison). Each row is a pure
 * function of the tensor's name and the row, and `rows()` streams them, so the converter never holds a whole tensor:
 * a target-shaped timing model has a 151,936-row embedding.
 */
function syntheticWeights(config: SdarConfig): WeightSource {
  const shapes = new Map(expectedTensors(config).map((t) => [t.name, t.shape]));
  const shapeOf = (name: string) => shapes.get(name) ?? [];
  const fill = (name: string, start: number, count: number, into?: Float32Array): Float32Array => {
    const shape = shapeOf(name);
    const width = shape.length > 1 ? shape[1] : shape[0];
    const isNorm = shape.length === 1;
    const out = into ?? new Float32Array(count * width);
    for (let r = 0; r < count; r++) {
      let s = (name.length * 2654435761 + (start + r) * 40503) >>> 0;
      for (let i = 0; i < width; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        out[r * width + i] = (isNorm ? 1 : 0) + (s / 2 ** 32 - 0.5) * (isNorm ? 0.1 : 0.5);
      }
    }
    return out;
  };
  return {
    config,
    names: () => [...shapes.keys()],
    read: (name) => ({ shape: shapeOf(name), data: fill(name, 0, shapeOf(name).length > 1 ? shapeOf(name)[0] : 1) }),
    rows: (name) => ({ shape: shapeOf(name), read: (start, count, into) => fill(name, start, count, into) }),
  };
}

function firstLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const adapter = lines.find((l) => /adapter/i.test(l));
  return (adapter ?? lines[0] ?? 'unknown error').replace(/^.*?(Failed to get)/, '$1');
}
