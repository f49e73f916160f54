// Execution-provider choice (models.md §8): `auto` tries WebGPU with a self-test that must match the CPU
// result within the fp16 tolerance, on a tiny synthetic model, and falls back to CPU with the reason. The
// probe runs in a child process (`worker.js --probe-webgpu`), because WebGPU failures can abort a process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectedTensors } from './checkpoint';
import { convertModel } from './convert';
import { KvCache } from './kv';
import { numElements } from './safetensors';
import { ModelSession } from './session';
import type { ForwardInput, SdarConfig, Tensor, WeightSource } from './types';

const FP16_TOLERANCE = 1e-2; // probability difference allowed between the WebGPU and CPU runs

const PROBE_CONFIG: SdarConfig = {
  hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 128, vocabSize: 256,
  maxPositions: 64, ropeTheta: 1e6, rmsNormEps: 1e-6, blockLength: 4, maskTokenId: 255, stopIds: [254], torchDtype: 'float32',
};

/** Null when WebGPU works and agrees with the CPU; otherwise why not, in one line. */
export async function probeWebGpu(): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), 'simsd-probe-'));
  try {
    await convertModel(syntheticWeights(PROBE_CONFIG), join(dir, 'model'), { weights: 'fp32', variants: ['greedy'] });
    const cpu = await ModelSession.open(join(dir, 'model'), { executionProvider: 'cpu', threads: 1 });
    const gpu = await ModelSession.open(join(dir, 'model'), { executionProvider: 'webgpu' });
    const L = PROBE_CONFIG.blockLength;
    const input: ForwardInput = {
      ids: Int32Array.from({ length: L }, (_, i) => (i * 31 + 7) % 250), positions: Int32Array.from({ length: L }, (_, i) => i),
      windowMask: new Uint8Array(L * L).fill(1), selectRows: Int32Array.from({ length: L }, (_, i) => i),
    };
    const a = await gpu.forward(input, KvCache.forConfig(PROBE_CONFIG, 1));
    const b = await cpu.forward(input, KvCache.forConfig(PROBE_CONFIG, 1));
    await Promise.all([gpu.close(), cpu.close()]);
    for (let r = 0; r < L; r++) {
      if (Math.abs(a.tokenProbs[r] - b.tokenProbs[r]) > FP16_TOLERANCE) return `self-test differs from CPU at row ${r}`;
    }
    return null;
  } catch (err) {
    return firstLine((err as Error).message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A deterministic small-valued model: enough to compare providers, meaningless as a language model. */
function syntheticWeights(config: SdarConfig): WeightSource {
  const shapes = new Map(expectedTensors(config).map((t) => [t.name, t.shape]));
  return {
    config,
    names: () => [...shapes.keys()],
    read(name: string): Tensor {
      const shape = shapes.get(name) ?? [];
      const data = new Float32Array(numElements(shape));
      let s = name.length * 2654435761;
      const isNorm = shape.length === 1;
      for (let i = 0; i < data.length; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        data[i] = (isNorm ? 1 : 0) + (s / 2 ** 32 - 0.5) * (isNorm ? 0.1 : 0.5);
      }
      return { shape, data };
    },
  };
}

function firstLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const adapter = lines.find((l) => /adapter/i.test(l));
  return (adapter ?? lines[0] ?? 'unknown error').replace(/^.*?(Failed to get)/, '$1');
}
