// Coupled sampling (decoding.md §6) for a model FACTORY: same seed → same output; simsd-exact with shared noise is
// IDENTICAL to native target sampling seed by seed (so its output distribution is exactly the target's); and native
// sampling's empirical distribution matches softmax(ℓ/T) (restricted to the top-k) on a small vocabulary.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HostKvCache } from '../../src/model/kv';
import type { GenerateRequest, Generation } from '../../src/decode/generate';
import { makePair, NARROW_DRAFT_SHAPE, randomPrompts, run, tinyPairWeights, type ModelFactory } from '../decode-helpers';
import { fixtureConfig, makeRandomWeights } from '../fixtures/tiny-checkpoint';

const same = (a: Generation, b: Generation) => a.tokenIds.join() === b.tokenIds.join() && a.finishReason === b.finishReason;

/** 99.9 % quantiles of chi-square by degrees of freedom (1..30). */
const CHI2_999 = [10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88, 29.59, 31.26, 32.91, 34.53, 36.12, 37.70,
  39.25, 40.79, 42.31, 43.82, 45.31, 46.80, 48.27, 49.73, 51.18, 52.62, 54.05, 55.48, 56.89, 58.30, 59.70];

/** Pearson chi-square with bins of expected count < 5 pooled; returns the statistic and the degrees of freedom. */
function chiSquare(counts: readonly number[], probs: readonly number[]): { stat: number; dof: number } {
  const n = counts.reduce((a, b) => a + b, 0);
  const bins: Array<{ o: number; e: number }> = [];
  let pool = { o: 0, e: 0 };
  probs.forEach((p, i) => {
    if (n * p >= 5) bins.push({ o: counts[i], e: n * p });
    else pool = { o: pool.o + counts[i], e: pool.e + n * p };
  });
  if (pool.e > 0) bins.push(pool);
  return { stat: bins.reduce((s, b) => s + (b.o - b.e) ** 2 / b.e, 0), dof: bins.length - 1 };
}

export function samplingParitySuite(label: string, factory: ModelFactory): void {
  describe(`strategies, coupled sampling (${label})`, () => {
    const prompts = randomPrompts(10, 3);

    test('same seed → same output; other seeds → other outputs', async () => {
      const pair = await makePair(tinyPairWeights('perturbed'), factory, 'sampling');
      const outputs = new Set<string>();
      for (const strategy of ['native', 'simsd-exact'] as const) {
        for (let seed = 0; seed < 4; seed++) {
          const request: GenerateRequest = { strategy, maxTokens: 12, temperature: 1, seed };
          const a = await run(pair, prompts[0], request);
          assert.ok(same(a, await run(pair, prompts[0], request)), `${strategy} seed ${seed}`);
          outputs.add(a.tokenIds.join());
        }
      }
      assert.ok(outputs.size >= 3, `seeds change the output (${outputs.size} distinct)`);
    });

    for (const kind of ['unrelated', 'perturbed'] as const) {
      test(`${kind} pair: coupled simsd-exact ≡ native sampling, seed by seed (static and dynamic, top-k)`, async (t) => {
        const pair = await makePair(tinyPairWeights(kind), factory, 'sampling');
        const settings: GenerateRequest[] = [
          { strategy: 'simsd-exact', maxTokens: 12, temperature: 1 },
          { strategy: 'simsd-exact', maxTokens: 12, temperature: 0.7, topK: 8 },
          { strategy: 'simsd-exact', maxTokens: 12, temperature: 1, rule: 'dynamic', threshold: 0.5, blocksPerVerify: 2 },
        ];
        const runs = kind === 'perturbed' ? 12 : 6;
        for (const s of settings) {
          let releaseSame = 0;
          let matched = 0;
          let drafted = 0;
          for (let i = 0; i < runs; i++) {
            const request = { ...s, seed: 1000 + i };
            const prompt = prompts[i % prompts.length];
            const native = await run(pair, prompt, { ...request, strategy: 'native', rule: s.rule });
            const exact = await run(pair, prompt, request);
            assert.ok(same(native, exact), `seed ${request.seed}: native ${Array.from(native.tokenIds)} vs simsd-exact ${Array.from(exact.tokenIds)}`);
            matched += exact.stats.matchedTokens;
            drafted += exact.stats.draftedTokens;
            if (s.rule !== 'dynamic' && same(native, await run(pair, prompt, { ...request, strategy: 'simsd' }))) releaseSame += 1;
          }
          t.diagnostic(`T=${s.temperature} topK=${s.topK ?? 64} ${s.rule ?? 'static'}: match rate ${(matched / Math.max(1, drafted)).toFixed(2)}`
            + (s.rule === 'dynamic' ? '' : `; simsd (release) with shared noise identical on ${releaseSame}/${runs} (approximate by design, no gate)`));
        }
      });
    }

    test('native sampling matches softmax(ℓ/T) over the top-k; simsd-exact draws the same sample per seed', async (t) => {
      // Vocabulary of 24 (MASK = 23), narrow 1-layer models: a prompt of 3 tokens leaves one hole, so each
      // generation is one reveal.
      const small = { ...fixtureConfig(NARROW_DRAFT_SHAPE), vocabSize: 24, maskTokenId: 23, stopIds: [22] };
      const weights = { target: makeRandomWeights(small, 5), draft: makeRandomWeights(small, 6) };
      const pair = await makePair(weights, factory, 'sampling');
      const debug = await factory(weights.target, 'debug');
      const prompt = [3, 14, 7];
      const probe = await debug.forward({
        ids: Int32Array.of(...prompt, 23), positions: Int32Array.of(0, 1, 2, 3), windowMask: new Uint8Array(16).fill(1), selectRows: Int32Array.of(3),
      }, HostKvCache.forConfig(debug.config));
      const logits = Array.from(probe.logits ?? []);
      for (const [T, k] of [[1, 64], [0.6, 5]] as const) {
        const order = logits.map((_, v) => v).sort((a, b) => logits[b] - logits[a] || a - b).slice(0, k);
        const z = order.reduce((s, v) => s + Math.exp(logits[v] / T), 0);
        const probs = logits.map((l, v) => (order.includes(v) ? Math.exp(l / T) / z : 0));
        const counts = new Array<number>(logits.length).fill(0);
        const n = 2000;
        for (let seed = 0; seed < n; seed++) {
          const request: GenerateRequest = { strategy: 'native', maxTokens: 1, temperature: T, topK: k, seed, modelStopIds: false };
          const native = await run(pair, prompt, request);
          counts[native.tokenIds[0]] += 1;
          if (seed % 10 === 0) assert.ok(same(native, await run(pair, prompt, { ...request, strategy: 'simsd-exact' })), `seed ${seed}`);
        }
        const { stat, dof } = chiSquare(counts, probs);
        const tv = counts.reduce((s, c, v) => s + Math.abs(c / n - probs[v]), 0) / 2;
        t.diagnostic(`T=${T} top-k=${k}: chi-square ${stat.toFixed(2)} (dof ${dof}, 99.9 % bound ${CHI2_999[dof - 1]}), total variation ${tv.toFixed(4)}`);
        assert.ok(stat < CHI2_999[dof - 1], `chi-square ${stat} with ${dof} dof`);
        assert.ok(tv < 0.04, `total variation ${tv}`);
        assert.ok(counts.every((c, v) => probs[v] > 0 || c === 0), 'nothing outside the top-k, never the MASK id');
      }
    });
  });
}
