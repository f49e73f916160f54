// What the engine relies on after a generation (generate.ts): the caches hold exactly the clean K/V of
// (prompt ++ output) in whole blocks, prefix-cache reuse ≡ full re-prefill, cancellation leaves consistent caches,
// progress streams the output, invalid requests raise typed errors, and `auto` follows its estimates.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrate } from '../../src/decode/calibrate';
import { lineEndCut, stopStringCut, textStopCut } from '../../src/decode/canvas';
import { generate, prefill, type GenerateRequest, type ModelPair, type Progress } from '../../src/decode/generate';
import { RequestError } from '../../src/model/errors';
import { updateEstimates } from '../../src/decode/auto';
import { HostKvCache } from '../../src/model/kv';
import type { CancelFlag, ForwardModel, SdarConfig } from '../../src/model/types';
import { makePair, randomPrompts, referenceFactory, run, sameCacheContent, tinyPairWeights } from '../decode-helpers';

const REQUESTS: GenerateRequest[] = [
  { strategy: 'native', maxTokens: 14 },
  { strategy: 'native', rule: 'dynamic', maxTokens: 14, threshold: 0.5 },
  { strategy: 'simsd', maxTokens: 14 },
  { strategy: 'simsd-exact', maxTokens: 14 },
  { strategy: 'simsd-exact', maxTokens: 14, blocksPerVerify: 3, fold: false },
  { strategy: 'simsd', maxTokens: 14, blocksPerVerify: 2 },
];

const pairPromise = makePair(tinyPairWeights('perturbed'), referenceFactory);
const prompts = randomPrompts(6, 7);

/** The cache holds the clean K/V of ids[0, cache.length), in whole blocks: compare with a fresh prefill. */
async function assertCacheEncodes(model: ForwardModel, cache: HostKvCache, ids: readonly number[], what: string): Promise<void> {
  const bl = model.config.blockLength;
  assert.equal(cache.length % bl, 0, `${what}: whole blocks`);
  assert.ok(cache.length <= ids.length, `${what}: no slot beyond the prompt and the output`);
  const fresh = HostKvCache.forConfig(model.config);
  await prefill(model, fresh, ids.slice(0, cache.length));
  assert.ok(await sameCacheContent(model, cache, fresh), `${what}: K/V of (prompt ++ output)[0, ${cache.length})`);
}

/** Cancels once the wrapped model has run `after` forwards (the forward itself checks the flag before running). */
function cancelAfter(model: ForwardModel, after: number, flag: { cancelled: boolean }): ForwardModel {
  let runs = 0;
  return {
    config: model.config, variant: model.variant, createCache: (capacity) => model.createCache(capacity),
    forward: async (input, cache, options) => {
      const out = await model.forward(input, cache, options);
      if (++runs >= after) flag.cancelled = true;
      return out;
    },
  };
}

function caches(pair: ModelPair): { target: HostKvCache; draft: HostKvCache } {
  return { target: HostKvCache.forConfig(pair.target.config), draft: HostKvCache.forConfig((pair.draft ?? pair.target).config) };
}

describe('caches after a generation', () => {
  test('every strategy leaves both caches holding exactly (prompt ++ output) in whole blocks', async () => {
    const pair = await pairPromise;
    for (const request of REQUESTS) {
      for (const prompt of prompts) {
        const c = caches(pair);
        const g = await generate(pair, c, prompt, request);
        const ids = [...prompt, ...g.tokenIds];
        await assertCacheEncodes(pair.target, c.target, ids, `${request.strategy} target`);
        if (request.strategy.startsWith('simsd') && pair.draft) await assertCacheEncodes(pair.draft, c.draft, ids, `${request.strategy} draft`);
      }
    }
  });

  test('prefix-cache reuse ≡ full re-prefill: same K/V, same output, only the missing blocks prefilled', async () => {
    const pair = await pairPromise;
    const prompt = Array.from({ length: 83 }, (_, i) => (i * 13 + 5) % 500);
    const whole = HostKvCache.forConfig(pair.target.config);
    assert.deepEqual(await prefill(pair.target, whole, prompt), { committedTokens: 80, forwards: 2 });
    const staged = HostKvCache.forConfig(pair.target.config);
    await prefill(pair.target, staged, prompt.slice(0, 40));
    assert.equal((await prefill(pair.target, staged, prompt)).committedTokens, 40);
    assert.ok(await sameCacheContent(pair.target, whole, staged));

    for (const request of REQUESTS.slice(2, 4)) {
      const cold = await run(pair, prompt, request);
      const warm = caches(pair);
      await prefill(pair.target, warm.target, prompt.slice(0, 48));
      if (pair.draft) await prefill(pair.draft, warm.draft, prompt.slice(0, 48));
      const g = await generate(pair, warm, prompt, request);
      assert.deepEqual(Array.from(g.tokenIds), Array.from(cold.tokenIds));
      assert.equal(g.stats.prefillTokens, 32);
      assert.equal(cold.stats.prefillTokens, 80);
    }
  });

  test('cancellation: a prefix of the full output, consistent caches, finish reason cancelled', async () => {
    const pair = await pairPromise;
    const prompt = prompts[2];
    for (const request of REQUESTS) {
      const full = await run(pair, prompt, request);
      for (const after of [1, 2, 3, 5, 8, 13]) {
        const flag = { cancelled: false };
        const wrapped = { target: cancelAfter(pair.target, after, flag), draft: pair.draft };
        const c = caches(pair);
        const g = await generate(wrapped, c, prompt, request, flag as CancelFlag);
        if (g.finishReason !== 'cancelled') {
          assert.deepEqual(Array.from(g.tokenIds), Array.from(full.tokenIds)); // finished before the flag mattered
          continue;
        }
        assert.deepEqual(Array.from(g.tokenIds), full.tokenIds.slice(0, g.tokenIds.length), `${request.strategy} after ${after}`);
        const ids = [...prompt, ...g.tokenIds];
        await assertCacheEncodes(pair.target, c.target, ids, `${request.strategy} cancelled after ${after}: target`);
        if (pair.draft && request.strategy.startsWith('simsd')) await assertCacheEncodes(pair.draft, c.draft, ids, `${request.strategy} cancelled: draft`);
      }
    }
  });
});

describe('line end (single-line completions)', () => {
  test('the output ends just after the first token holding a line break; the caches hold only emitted blocks', async () => {
    const pair = await pairPromise;
    for (const request of REQUESTS) {
      const prompt = prompts[3];
      const full = await run(pair, prompt, { ...request, maxTokens: 24 });
      // Pretend the token at output index k is a line break: the cut must land right after it, in every strategy.
      for (const k of [0, 2, 5, 9].filter((i) => i < full.tokenIds.length)) {
        const newline = full.tokenIds[k];
        const tokenText = (id: number) => (id === newline ? 'x\n' : 'y');
        const c = caches(pair);
        const g = await generate(pair, c, prompt, { ...request, maxTokens: 24, stopAtLineEnd: true, tokenText });
        const expected = full.tokenIds.slice(0, full.tokenIds.indexOf(newline) + 1);
        assert.deepEqual(g.tokenIds, expected, `${request.strategy}/${request.rule ?? 'static'} cut at token ${k}`);
        assert.equal(g.finishReason, 'stop');
        const ids = [...prompt, ...g.tokenIds];
        assert.ok(c.target.length <= ids.length && c.target.length % 4 === 0);
        await assertCacheEncodes(pair.target, c.target, ids, `${request.strategy} line end: target`);
        if (pair.draft && request.strategy.startsWith('simsd')) await assertCacheEncodes(pair.draft, c.draft, ids, `${request.strategy} line end: draft`);
      }
    }
  });

  test('lineEndCut: after the first token with a line break, leading ones included; null while the line goes on', () => {
    const text: Record<number, string> = { 1: 'a', 2: '\n', 3: 'b\nc', 4: ' ' };
    assert.equal(lineEndCut([1, 4, 1], (t) => text[t]), null);
    assert.equal(lineEndCut([1, 3, 1], (t) => text[t]), 2);
    assert.equal(lineEndCut([2, 1], (t) => text[t]), 1, 'a leading line break ends the (empty) first line, as post-processing sees it');
  });
});

describe('stop strings (the server\'s `stop`)', () => {
  test('the output ends just after the token completing a stop string, also across tokens; caches hold only emitted blocks', async () => {
    const pair = await pairPromise;
    const tokenText = (id: number) => `t${id};`;
    for (const request of REQUESTS) {
      const prompt = prompts[4];
      const full = await run(pair, prompt, { ...request, maxTokens: 24 });
      for (const k of [0, 3, 6, 10].filter((i) => i + 1 < full.tokenIds.length)) {
        // A stop string that starts inside token k and ends inside token k + 1, and one that never occurs.
        const stop = `${full.tokenIds[k]};t${full.tokenIds[k + 1]}`;
        const expected = full.tokenIds.slice(0, stopStringCut(full.tokenIds, tokenText, [stop]) ?? undefined);
        assert.ok(expected.length <= k + 2);
        const c = caches(pair);
        const g = await generate(pair, c, prompt, { ...request, maxTokens: 24, stopStrings: ['never', stop], tokenText });
        assert.deepEqual(g.tokenIds, expected, `${request.strategy}/${request.rule ?? 'static'} stop at token ${k}`);
        assert.equal(g.finishReason, 'stop');
        const ids = [...prompt, ...g.tokenIds];
        await assertCacheEncodes(pair.target, c.target, ids, `${request.strategy} stop string: target`);
        if (pair.draft && request.strategy.startsWith('simsd')) await assertCacheEncodes(pair.draft, c.draft, ids, `${request.strategy} stop string: draft`);
      }
      const none = await generate(pair, caches(pair), prompt, { ...request, maxTokens: 24, stopStrings: ['never'], tokenText });
      assert.deepEqual(none.tokenIds, full.tokenIds, 'a stop string that never occurs changes nothing');
    }
  });

  test('stopStringCut: after the token that completes the first stop string, matched across tokens; null while none is complete', () => {
    const text: Record<number, string> = { 1: 'ab', 2: 'c\n', 3: 'de', 4: '', 5: '\uFFFD' };
    const cut = (tokens: number[], stops: string[]) => stopStringCut(tokens, (t) => text[t], stops);
    assert.equal(cut([1, 2, 3], ['x']), null);
    assert.equal(cut([1, 2, 3], ['bc']), 2, 'across the token boundary');
    assert.equal(cut([1, 2, 3], ['ab']), 1, 'within one token');
    assert.equal(cut([1, 2, 3], ['de', 'c']), 2, 'the earliest completion wins, whatever the order of the stops');
    assert.equal(cut([1, 4, 2], ['bc']), 3, 'empty token texts are skipped over');
    assert.equal(cut([1, 2], ['']), null, 'an empty stop string never matches');
    assert.equal(cut([1, 2, 1, 2], ['abc\nab']), 3);
    assert.equal(cut([], ['a']), null);
    assert.equal(textStopCut([1, 2, 3], (t) => text[t], true, ['de']), 2, 'the line end comes first');
    assert.equal(textStopCut([1, 2, 3], (t) => text[t], false, ['de']), 3);
    assert.equal(textStopCut([1, 3], (t) => text[t], true, []), null);
  });
});

describe('driver', () => {
  test('progress streams exactly the output, then done', async () => {
    const pair = await pairPromise;
    for (const request of REQUESTS.slice(0, 4)) {
      const seen: Progress[] = [];
      const g = await generate(pair, caches(pair), prompts[1], request, undefined, (p) => seen.push(p));
      assert.deepEqual(seen.flatMap((p) => p.tokens), Array.from(g.tokenIds));
      assert.equal(seen.at(-1)?.done, g.finishReason);
      assert.ok(seen.slice(0, -1).every((p) => p.done === null));
    }
  });

  test('cost (decoding.md §1.3, §4): 1.25 → 1 target forward per token natively, 0.5 → 0.25 for a fully matched SimSD', async () => {
    const pair = await pairPromise;
    const self = { target: pair.target, draft: pair.target };
    const prompt = [5, 6, 7, 8, 9, 10, 11, 12]; // on a block edge: 4 blocks of 4 new tokens, no stop ids
    const cost = async (models: ModelPair, request: Omit<GenerateRequest, 'maxTokens'>) => {
      const g = await run(models, prompt, { ...request, maxTokens: 16, modelStopIds: false });
      assert.equal(g.tokenIds.length, 16);
      return g.stats.targetForwards;
    };
    // The last block's clean pass is never needed: its output is final first.
    assert.equal(await cost(pair, { strategy: 'native', fold: false }), 16 + 3);
    assert.equal(await cost(pair, { strategy: 'native' }), 16);
    for (const strategy of ['simsd', 'simsd-exact'] as const) {
      assert.equal(await cost(self, { strategy, fold: false }), 4 + 3, strategy);
      assert.equal(await cost(self, { strategy }), 4, strategy);
      assert.equal(await cost(self, { strategy, blocksPerVerify: 2 }), 2, `${strategy} K=2`);
    }
  });

  test('an empty prompt and a prompt on a block edge: simsd-exact ≡ native', async () => {
    const pair = await pairPromise;
    for (const prompt of [[], [1, 2, 3, 4]]) {
      const native = await run(pair, prompt, { strategy: 'native', maxTokens: 10 });
      assert.deepEqual(Array.from((await run(pair, prompt, { strategy: 'simsd-exact', maxTokens: 10 })).tokenIds), Array.from(native.tokenIds));
    }
  });

  test('a zero budget runs no forward', async () => {
    const pair = await pairPromise;
    const g = await run(pair, [1, 2, 3, 4, 5], { strategy: 'simsd-exact', maxTokens: 0 });
    assert.equal(g.finishReason, 'length');
    assert.equal(g.tokenIds.length, 0);
    assert.equal(g.stats.targetForwards + g.stats.draftForwards, 0);
  });

  test('invalid requests raise RequestError', async () => {
    const pair = await pairPromise;
    await assert.rejects(run({ target: pair.target }, [1, 2], { strategy: 'simsd', maxTokens: 4 }), RequestError);
    await assert.rejects(run(pair, [1, 2], { strategy: 'native', maxTokens: 4, temperature: 1 }), /sampling variant/);
    const other: SdarConfig = { ...pair.target.config, blockLength: 8 };
    await assert.rejects(run({ target: pair.target, draft: { ...pair.target, config: other, forward: pair.target.forward, createCache: (c?: number) => pair.target.createCache(c) } }, [1], { strategy: 'simsd', maxTokens: 4 }), /block length/);
  });

  test('auto picks by the estimates; calibration measures every candidate', async () => {
    const pair = await pairPromise;
    const none = await run(pair, prompts[0], { strategy: 'auto', maxTokens: 8 });
    assert.equal(none.stats.strategy, 'native'); // no evidence: native
    const estimates = await calibrate(pair, prompts[0], {}, ['native', 'simsd-exact'], undefined, { maxTokens: 8, runs: 1 });
    assert.deepEqual(Object.keys(estimates).sort(), ['native', 'simsd-exact']);
    const fast = updateEstimates(updateEstimates({}, { ...none.stats, newTokens: 10, decodeMs: 1000 }), { ...none.stats, strategy: 'simsd-exact', newTokens: 30, decodeMs: 1000 });
    const picked = await run(pair, prompts[0], { strategy: 'auto', maxTokens: 8, autoEstimates: fast });
    assert.equal(picked.stats.strategy, 'simsd-exact');
    const noDraft = await run({ target: pair.target }, prompts[0], { strategy: 'auto', maxTokens: 8, autoEstimates: fast });
    assert.equal(noDraft.stats.strategy, 'native');
  });
});
