// Shared noise and Gumbel-max sampling (decoding.md §6): determinism, keying, and distributions on hand-made logits.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gumbel, sampleCandidates, uniform } from '../../src/decode/noise';

/** Pearson chi-square of observed counts against expected probabilities. */
function chiSquare(counts: readonly number[], probs: readonly number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((s, c, i) => s + (c - n * probs[i]) ** 2 / (n * probs[i]), 0);
}

function softmax(logits: readonly number[], T: number): number[] {
  const max = Math.max(...logits.map((l) => l / T));
  const e = logits.map((l) => Math.exp(l / T - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

describe('noise', () => {
  test('a pure function of (seed, position, step, token)', () => {
    assert.equal(gumbel(7, 100, 2, 5), gumbel(7, 100, 2, 5));
    const keys = [[8, 100, 2, 5], [7, 101, 2, 5], [7, 100, 3, 5], [7, 100, 2, 6]];
    for (const [s, p, t, v] of keys) assert.notEqual(gumbel(s, p, t, v), gumbel(7, 100, 2, 5));
  });

  test('uniform in (0, 1) with Gumbel moments (mean γ, variance π²/6)', () => {
    let sum = 0;
    let sumSq = 0;
    let uSum = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const u = uniform(3, i, i % 4, i * 7);
      assert.ok(u > 0 && u < 1);
      uSum += u;
      const g = gumbel(3, i, i % 4, i * 7);
      sum += g;
      sumSq += g * g;
    }
    const mean = sum / n;
    assert.ok(Math.abs(uSum / n - 0.5) < 0.005);
    assert.ok(Math.abs(mean - 0.5772156649) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(sumSq / n - mean * mean - Math.PI ** 2 / 6) < 0.03);
  });
});

describe('Gumbel-max over candidates', () => {
  const ids = Int32Array.of(4, 9, 1, 7, 3);
  const logits = Float32Array.of(2.0, 1.5, 0.5, 0.0, -1.0);
  const lse = (T: number) => Math.log(Array.from(logits).reduce((s, l) => s + Math.exp(l / T), 0)) + Math.log(1.25); // mass outside the top-k

  test('the empirical distribution over seeds matches softmax(ℓ/T) restricted to the top-k (chi-square, fixed seeds)', () => {
    for (const [T, k] of [[1, 5], [0.7, 3]] as const) {
      const counts = new Array<number>(k).fill(0);
      const n = 20_000;
      for (let seed = 0; seed < n; seed++) {
        const pick = sampleCandidates({ ids, logits, logSumExp: lse(T) }, { temperature: T, topK: k, seed }, 12, 0);
        counts[Array.from(ids).indexOf(pick.token)] += 1;
      }
      const probs = softmax(Array.from(logits.subarray(0, k)), T);
      // 99.9 % quantile of chi-square with 4 degrees of freedom is 18.47 (2 dof: 13.82).
      assert.ok(chiSquare(counts, probs) < (k === 5 ? 18.47 : 13.82), `T=${T} k=${k}: ${counts.join(',')} vs ${probs.map((p) => (p * n).toFixed(0)).join(',')}`);
    }
  });

  test('the confidence is softmax(ℓ/T) over the full vocabulary: exp(ℓ_x/T − lse)', () => {
    const pick = sampleCandidates({ ids, logits, logSumExp: lse(0.5) }, { temperature: 0.5, topK: 5, seed: 1 }, 0, 0);
    const i = Array.from(ids).indexOf(pick.token);
    assert.ok(Math.abs(pick.confidence - Math.exp(logits[i] / 0.5 - lse(0.5))) < 1e-12);
  });

  test('top-k restricts the candidates; the noise is keyed by token id, not by rank', () => {
    for (let seed = 0; seed < 200; seed++) {
      const pick = sampleCandidates({ ids, logits, logSumExp: lse(1) }, { temperature: 1, topK: 2, seed }, 3, 1);
      assert.ok(pick.token === 4 || pick.token === 9);
      // The same candidates in another order give the same sample.
      const swapped = sampleCandidates({ ids: Int32Array.of(9, 4), logits: Float32Array.of(1.5, 2.0), logSumExp: lse(1) }, { temperature: 1, topK: 2, seed }, 3, 1);
      assert.equal(swapped.token, pick.token);
    }
  });

  test('a candidate with logit −∞ (the banned MASK id) is never sampled', () => {
    for (let seed = 0; seed < 200; seed++) {
      const pick = sampleCandidates({ ids: Int32Array.of(1, 2), logits: Float32Array.of(0, -Infinity), logSumExp: 0 }, { temperature: 1, topK: 2, seed }, 0, 0);
      assert.equal(pick.token, 1);
    }
  });
});
