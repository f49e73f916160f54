// Test helpers over the model layer: convert an in-memory WeightSource into a temporary folder and open it,
// and build the forward windows every SDAR decoding needs (prefill, denoise, verify, fold).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertModel } from '../src/model/convert';
import { ModelSession, type ExecutionProvider } from '../src/model/session';
import type { KvLocation } from '../src/model/types';
import type { ForwardOutput, GraphVariant, KvRows, Precision, WeightSource } from '../src/model/types';
import type { WeightFormat } from '../src/model/weights';

export interface SessionSpec {
  readonly weights?: WeightFormat;     // default fp32
  readonly variant?: GraphVariant;     // default greedy
  readonly accuracyLevel?: number;     // default 0: exact, comparable with the reference
  readonly precision?: Precision;      // default fp32
  readonly ep?: ExecutionProvider;     // default cpu
  readonly kv?: KvLocation;            // default: device on WebGPU, host on the CPU
}

const made: string[] = [];
process.on('exit', () => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** Converts `source` into a fresh temporary folder (removed at exit) and opens one session on it. */
export async function openSession(source: WeightSource, spec: SessionSpec = {}): Promise<ModelSession> {
  const dir = join(mkdtempSync(join(tmpdir(), 'simsd-model-')), 'model');
  made.push(join(dir, '..'));
  const variant = spec.variant ?? 'greedy';
  await convertModel(source, dir, { weights: spec.weights ?? 'fp32', precision: spec.precision, accuracyLevel: spec.accuracyLevel ?? 0, variants: [variant] });
  return ModelSession.open(dir, { variant, threads: 1, executionProvider: spec.ep, kv: spec.kv });
}

/** A forward's new K/V as host arrays (the forward ran over a host cache). */
export function hostKv(out: ForwardOutput): readonly KvRows[] {
  if (!Array.isArray(out.newKv)) throw new Error('the forward left its K/V on the device');
  return out.newKv;
}

/** Block-causal window mask [L, L] for rows at absolute positions `positions` (a prefill chunk). */
export function blockCausal(positions: readonly number[], bl: number): Uint8Array {
  const L = positions.length;
  const mask = new Uint8Array(L * L);
  for (let r = 0; r < L; r++) for (let j = 0; j < L; j++) {
    mask[r * L + j] = Math.floor(positions[j] / bl) <= Math.floor(positions[r] / bl) ? 1 : 0;
  }
  return mask;
}

/** A mask from a visibility predicate over (row, column). */
export function maskOf(L: number, visible: (row: number, col: number) => boolean): Uint8Array {
  const mask = new Uint8Array(L * L);
  for (let r = 0; r < L; r++) for (let j = 0; j < L; j++) mask[r * L + j] = visible(r, j) ? 1 : 0;
  return mask;
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
