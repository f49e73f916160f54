// Prefix-cache reuse ≡ full re-prefill on WebGPU with the KV cache on the device (testing.md §3): a cache prefilled in
// stages holds the K/V of one prefilled at once, and a generation continuing from a kept prefix gives the output of a
// cold one, prefilling only the missing blocks. fp32 to kernel numerics; fp16 to fp16 rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, prefill, withCaches, type GenerateRequest } from '../../src/decode/generate';
import { FilePrefixCache } from '../../src/cache/prefix-cache';
import { cacheDifference, run, tinyPairWeights } from '../decode-helpers';
import { openSession } from '../model-helpers';
import { requireWebGpu } from '../webgpu-helpers';

const REQUESTS: GenerateRequest[] = [
  { strategy: 'native', maxTokens: 14 },
  { strategy: 'simsd-exact', maxTokens: 14 },
  { strategy: 'simsd', maxTokens: 14, blocksPerVerify: 2 },
];

for (const [precision, kvTolerance] of [['fp32', 1e-5], ['fp16', 1e-2]] as const) {
  test(`WebGPU ${precision}: prefix-cache reuse ≡ full re-prefill (same K/V, same output, only the missing blocks prefilled)`, async (t) => {
    await requireWebGpu();
    const weights = tinyPairWeights('perturbed');
    const open = (w: typeof weights.target) => openSession(w, { ep: 'webgpu', precision, weights: precision, accuracyLevel: 0 });
    const pair = { target: await open(weights.target), draft: await open(weights.draft) };
    try {
      const prompt = Array.from({ length: 83 }, (_, i) => (i * 13 + 5) % 500);
      await withCaches({ target: pair.target }, async ({ target: whole }) => {
        assert.equal(whole.location, 'device');
        assert.deepEqual(await prefill(pair.target, whole, prompt), { committedTokens: 80, forwards: 2 });
        await withCaches({ target: pair.target }, async ({ target: staged }) => {
          await prefill(pair.target, staged, prompt.slice(0, 40));
          assert.equal((await prefill(pair.target, staged, prompt)).committedTokens, 40);
          const d = await cacheDifference(pair.target, whole, staged);
          t.diagnostic(`staged vs whole prefill: max |ΔK/V| ${d.toExponential(2)}`);
          assert.ok(d <= kvTolerance, `K/V differ by ${d}`);
        });
      });
      for (const request of REQUESTS) {
        const cold = await run(pair, prompt, request);
        // As the engine keeps it: a file's prefix cache, truncated to what a new prompt shares, then continued.
        const file = await FilePrefixCache.create(pair.target, pair.draft);
        try {
          assert.equal(file.keepLength(prompt.slice(0, 48)), 0);
          await prefill(pair.target, file.target, prompt.slice(0, 48));
          await prefill(pair.draft, file.draft!, prompt.slice(0, 48));
          file.record(prompt.slice(0, 48));
          assert.equal(file.keepLength(prompt), 48);
          const warm = await generate(pair, { target: file.target, draft: file.draft ?? undefined }, prompt, request);
          assert.deepEqual(Array.from(warm.tokenIds), Array.from(cold.tokenIds), `${request.strategy}: warm ≡ cold`);
          assert.equal(warm.stats.prefillTokens, 32);
          assert.equal(cold.stats.prefillTokens, 80);
          assert.ok(file.bytes > 0 && file.bytes === file.target.bytes + (file.draft?.bytes ?? 0), 'device memory is counted');
        } finally {
          file.dispose();
        }
      }
    } finally {
      await Promise.all([pair.target.close(), pair.draft.close()]);
    }
  });
}
