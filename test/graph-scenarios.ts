// The SDAR forward windows the graph twins run (testing.md §3): a block-causal prefill, a denoise window over a
// cache, a SimSD verify window with RoPE copies under the temporal mask, and a two-block fold; each after a prefix
// committed through the model's own cache (host or device).
import assert from 'node:assert/strict';
import type { ForwardInput, ForwardModel, ForwardOutput } from '../src/model/types';
import { fixtureConfig } from './fixtures/tiny-checkpoint';
import { blockCausal, maskOf, range } from './model-helpers';

export const BL = 4;
export const MASK = fixtureConfig().maskTokenId;

export interface Scenario { readonly name: string; readonly prefix: number; readonly input: ForwardInput }

export function input(ids: number[], positions: number[], mask: Uint8Array, select: number[]): ForwardInput {
  return { ids: Int32Array.from(ids), positions: Int32Array.from(positions), windowMask: mask, selectRows: Int32Array.from(select) };
}

export const prompt = range(0, 16).map((i) => (i * 37 + 11) % 500);

/** Each scenario runs after committing `prefix` prompt tokens through a block-causal prefill. */
export const SCENARIOS: Scenario[] = [
  { name: 'block-causal prefill of 3 blocks', prefix: 0,
    input: input(prompt.slice(0, 12), range(0, 12), blockCausal(range(0, 12), BL), [0, 5, 11]) },
  { name: 'denoise window over a cache', prefix: 8,
    input: input([prompt[8], prompt[9], MASK, MASK], range(8, 12), maskOf(4, () => true), [2, 3]) },
  { name: 'SimSD verify window: RoPE copies + temporal mask', prefix: 8,
    // known k = [p8], DATA d9 d10 d11 revealed at steps t = [1, 0, 2], MASK copies at the same positions.
    input: input([prompt[8], 41, 42, 43, MASK, MASK, MASK], [8, 9, 10, 11, 9, 10, 11], verifyMask(1, [1, 0, 2]), [4, 5, 6]) },
  { name: 'two-block fold: pending clean block + next canvas', prefix: 8,
    input: input([...prompt.slice(8, 12), prompt[12], MASK, MASK, MASK], range(8, 16),
      maskOf(8, (r, j) => (r < 4 ? j < 4 : true)), [5, 6, 7]) },
];

/** decoding.md §2.3: known rows see known; DATA_i sees DATA_j iff t_j ≤ t_i and MASK_j iff t_j > t_i; MASK_i the opposite. */
function verifyMask(known: number, t: number[]): Uint8Array {
  const m = t.length;
  const L = known + 2 * m;
  return maskOf(L, (r, j) => {
    if (j < known) return true;
    if (r < known) return false;
    const rowIsData = r < known + m;
    const ti = t[(r - known) % m];
    const colIsData = j < known + m;
    const tj = t[(j - known) % m];
    if (rowIsData) return colIsData ? tj <= ti : tj > ti;
    return colIsData ? tj < ti : tj >= ti;
  });
}

export async function runScenario(model: ForwardModel, s: Scenario): Promise<ForwardOutput> {
  const cache = await model.createCache();
  try {
    if (s.prefix > 0) {
      const pre = await model.forward(input(prompt.slice(0, s.prefix), range(0, s.prefix), blockCausal(range(0, s.prefix), BL), [0]), cache);
      await cache.commit(pre, range(0, s.prefix));
    }
    return await model.forward(s.input, cache);
  } finally {
    cache.dispose();
  }
}

/** Largest absolute difference; positions −∞ in both (banned ids in debug logits) are equal. */
/**
 * Runs `s` on a fast path and on its twin and holds them together: logits within 1e-4 (the difference reported),
 * the same argmax, probabilities within 1e-5. Returns both outputs for further checks.
 */
export async function assertSameForward(
  report: (line: string) => void, s: Scenario, fast: ForwardModel, twin: ForwardModel,
): Promise<[ForwardOutput, ForwardOutput]> {
  const [a, b] = [await runScenario(fast, s), await runScenario(twin, s)];
  const d = maxDiff(a.logits!, b.logits!);
  report(`${s.name}: max |Δlogit| ${d.toExponential(2)}`);
  assert.ok(d <= 1e-4, `${s.name}: max |Δlogit| ${d}`);
  assert.deepEqual([...a.tokenIds], [...b.tokenIds], `${s.name}: argmax differs`);
  assert.ok(maxDiff(a.tokenProbs, b.tokenProbs) <= 1e-5, `${s.name}: probabilities differ`);
  return [a, b];
}

export function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === -Infinity && b[i] === -Infinity) continue;
    d = Math.max(d, Math.abs(a[i] - b[i]));
  }
  return d;
}
