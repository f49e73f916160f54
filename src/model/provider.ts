// Execution-provider choice (onnxruntime.md §8): `auto` tries WebGPU with a self-test forward that must
// match the CPU result within the fp16 tolerance, and falls back to CPU with the reason logged.
import { KvCache } from './kv';
import { ModelSession, type ExecutionProvider } from './session';
import type { ForwardInput } from './types';

export type ProviderPreference = 'auto' | ExecutionProvider;
export const PROVIDER_PREFERENCES: readonly ProviderPreference[] = ['auto', 'cpu', 'webgpu'];

export interface ProviderChoice {
  readonly executionProvider: ExecutionProvider;
  readonly reason: string;
}

const FP16_TOLERANCE = 1e-2; // probability difference allowed between the WebGPU and CPU self-test runs

export async function chooseProvider(dir: string, preference: ProviderPreference, log: (line: string) => void): Promise<ProviderChoice> {
  if (preference === 'cpu') return { executionProvider: 'cpu', reason: 'set by simsd.executionProvider' };
  try {
    const mismatch = await selfTest(dir);
    if (mismatch !== null) throw new Error(`self-test differs from CPU: ${mismatch}`);
    return { executionProvider: 'webgpu', reason: 'WebGPU adapter found and self-test passed' };
  } catch (err) {
    const reason = `WebGPU unavailable (${firstLine((err as Error).message)}); using CPU`;
    log(reason);
    if (preference === 'webgpu') log('simsd.executionProvider is "webgpu" but it failed; falling back to CPU');
    return { executionProvider: 'cpu', reason };
  }
}

/** One short forward on both providers; returns a description of the first mismatch, or null. */
async function selfTest(dir: string): Promise<string | null> {
  const gpu = await ModelSession.open(dir, { executionProvider: 'webgpu' });
  const cpu = await ModelSession.open(dir, { executionProvider: 'cpu' });
  try {
    const L = gpu.config.blockLength;
    const input: ForwardInput = {
      ids: Int32Array.from({ length: L }, (_, i) => (i * 31 + 7) % gpu.config.vocabSize),
      positions: Int32Array.from({ length: L }, (_, i) => i),
      windowMask: new Uint8Array(L * L).fill(1),
      selectRows: Int32Array.from({ length: L }, (_, i) => i),
    };
    const [a, b] = [await gpu.forward(input, KvCache.forConfig(gpu.config)), await cpu.forward(input, KvCache.forConfig(cpu.config))];
    for (let r = 0; r < L; r++) {
      if (Math.abs(a.tokenProbs[r] - b.tokenProbs[r]) > FP16_TOLERANCE) return `row ${r}: p ${a.tokenProbs[r]} vs ${b.tokenProbs[r]}`;
    }
    return null;
  } finally {
    await gpu.close();
    await cpu.close();
  }
}

function firstLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const adapter = lines.find((l) => /adapter/i.test(l));
  return (adapter ?? lines[0] ?? 'unknown error').replace(/^.*?(Failed to get)/, '$1');
}
