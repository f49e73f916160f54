// Greedy parity of every strategy against native decoding (decoding.md §9.1 T1, T2, T5; README.md §4.7), for a model
// FACTORY: strategies.test.ts runs it on ReferenceModel; a ModelSession factory can run the same suite later.
// Random-weight pairs: `unrelated` (different seed and size), `perturbed` (frequent but imperfect agreement).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCaches, generate, type GenerateRequest, type Generation, type ModelPair } from '../../src/decode/generate';
import type { WeightSource } from '../../src/model/types';
import type { PairKind, ModelFactory } from '../decode-helpers';
import {
  divergence, makePair, randomPrompts, recomputeDecode, run, cacheDifference, tinyPairWeights, truncatedDraft,
} from '../decode-helpers';

const MAX_TOKENS = 12;
/** Tokens the tiny random targets emit often: used as extra stop ids on every other prompt (early exit paths). */
const FREQUENT = [76, 20];

/** Every other prompt stops on FREQUENT as well as the model's stop ids. */
function requestFor(i: number, request: GenerateRequest): GenerateRequest {
  return i % 2 === 1 ? { ...request, stopIds: FREQUENT } : request;
}

const sameOutput = (a: Generation, b: Generation) => a.tokenIds.join() === b.tokenIds.join() && a.finishReason === b.finishReason;

/**
 * Twins must give identical outputs. On a mismatch: the T5 report (decoding.md §9.1), with the first divergent output
 * index and the block, step, position and top-2 logit margin at which native decoding (the rule of `request`) revealed
 * it. With a tie margin (fp16), a divergence where those two logits are closer than it is a numeric tie: recorded in
 * `ties`, not a failure.
 */
async function checkSame(
  factory: ModelFactory, target: WeightSource, prompt: readonly number[], request: GenerateRequest, want: Generation,
  got: Generation, label: string, options: SuiteOptions, ties: string[],
): Promise<void> {
  if (sameOutput(want, got)) return;
  const debug = await factory(target, 'debug');
  const stopIds = new Set([...target.config.stopIds, ...(request.stopIds ?? [])]);
  const dynamic = request.rule === 'dynamic';
  const { trace } = await recomputeDecode(debug, prompt, { maxTokens: request.maxTokens, stopIds, threshold: dynamic ? request.threshold ?? 0.9 : undefined });
  judge(divergence(label, want.tokenIds, got.tokenIds, prompt.length, trace), options, ties);
}

function judge(d: { readonly report: string; readonly margin: number }, options: SuiteOptions, ties: string[]): void {
  if (d.margin < (options.tieMargin ?? 0)) ties.push(d.report);
  else assert.fail(d.report);
}

/** Compares `other` with the native reference on every prompt (see checkSame). */
async function assertIdentical(
  factory: ModelFactory, target: WeightSource, pair: ModelPair, prompts: readonly number[][], native: GenerateRequest,
  other: GenerateRequest, options: SuiteOptions, ties: string[],
): Promise<{ readonly reference: Generation[]; readonly other: Generation[] }> {
  const reference: Generation[] = [];
  const others: Generation[] = [];
  for (const [i, prompt] of prompts.entries()) {
    const want = await run(pair, prompt, requestFor(i, native));
    const got = await run(pair, prompt, requestFor(i, other));
    reference.push(want);
    others.push(got);
    await checkSame(factory, target, prompt, requestFor(i, native), want, got, `prompt ${i} (${other.strategy} vs ${native.strategy})`, options, ties);
  }
  return { reference, other: others };
}

function summary(gens: readonly Generation[]): string {
  const sum = (f: (g: Generation) => number) => gens.reduce((a, g) => a + f(g), 0);
  const tokens = sum((g) => g.stats.newTokens);
  const verifications = sum((g) => g.stats.verifications);
  const accepted = sum((g) => (g.stats.acceptLength?.mean ?? 0) * g.stats.verifications);
  const drafted = sum((g) => g.stats.draftedTokens);
  return `accept length ${(accepted / Math.max(1, verifications)).toFixed(2)}, match rate ${(sum((g) => g.stats.matchedTokens) / Math.max(1, drafted)).toFixed(2)}, `
    + `target forwards/token ${(sum((g) => g.stats.targetForwards) / tokens).toFixed(3)}, stops ${gens.filter((g) => g.finishReason === 'stop').length}/${gens.length}`;
}

/** How close twins' committed K/V must be: 0 for the reference (each row computed alone, so bit-identical). */
export interface SuiteOptions {
  readonly kvTolerance: number;
  readonly prompts: number;      // T1 prompts per pair (the gate asks for ≥ 50 on the fp32 reference)
  /**
   * fp16 only: divergences at a top-2 logit margin below this are numeric ties (windows of different widths round
   * differently in fp16), reported and counted, never excused above it. Default 0: outputs must be identical.
   */
  readonly tieMargin?: number;
}

export function strategyParitySuite(label: string, factory: ModelFactory, options: SuiteOptions = { kvTolerance: 0, prompts: 50 }): void {
  describe(`strategies, greedy (${label})`, () => {
    const prompts = randomPrompts(options.prompts, 1);
    const ties: string[] = [];
    const pairs = new Map<PairKind, Promise<ModelPair>>();
    const pairOf = (kind: PairKind) => {
      const made = pairs.get(kind) ?? makePair(tinyPairWeights(kind), factory);
      pairs.set(kind, made);
      return made;
    };

    for (const kind of ['unrelated', 'perturbed'] as const) {
      test(`T1 ${kind} pair: simsd-exact ≡ native on ${prompts.length} prompts; simsd reported`, async (t) => {
        const pair = await pairOf(kind);
        const base = { maxTokens: MAX_TOKENS };
        const exact = await assertIdentical(factory, tinyPairWeights(kind).target, pair, prompts, { ...base, strategy: 'native' }, { ...base, strategy: 'simsd-exact' }, options, ties);
        const release: Generation[] = [];
        for (const [i, prompt] of prompts.entries()) release.push(await run(pair, prompt, requestFor(i, { ...base, strategy: 'simsd' })));
        const same = release.filter((g, i) => sameOutput(g, exact.reference[i])).length;
        t.diagnostic(`simsd-exact: ${summary(exact.other)}`);
        t.diagnostic(`simsd (release): identical to native on ${same}/${prompts.length} prompts (no gate); ${summary(release)}`);
        assert.ok(exact.reference.some((g) => g.finishReason === 'stop'), 'some prompts exercise the stop/early-exit path');
      });

      test(`T1 ${kind} pair: simsd-exact under the dynamic rule ≡ native under the dynamic rule`, async (t) => {
        const pair = await pairOf(kind);
        for (const threshold of [0.5, 0.9]) {
          const base = { maxTokens: MAX_TOKENS, threshold };
          const some = prompts.slice(0, threshold === 0.9 ? 10 : kind === 'unrelated' ? 20 : 30);
          const r = await assertIdentical(factory, tinyPairWeights(kind).target, pair, some, { ...base, strategy: 'native', rule: 'dynamic' }, { ...base, strategy: 'simsd-exact', rule: 'dynamic' }, options, ties);
          const multi = r.reference.filter((g) => g.stats.targetForwards < g.stats.newTokens).length;
          t.diagnostic(`τ=${threshold}: ${summary(r.other)}; ${multi} native runs revealed several holes in one step`);
          if (threshold === 0.5) assert.ok(multi > 0, 'the dynamic rule reveals several holes per step on some prompts');
        }
      });
    }

    test('T2 self-draft: a second model of the target accepts every step and gives identical output', async (t) => {
      const weights = tinyPairWeights('perturbed').target;
      const pair = { target: await factory(weights, 'greedy'), draft: await factory(weights, 'greedy') };
      const some = prompts.slice(0, 8);
      for (const request of [{ strategy: 'simsd-exact', rule: 'static' }, { strategy: 'simsd-exact', rule: 'dynamic', threshold: 0.5 }] as const) {
        const r = await assertIdentical(factory, weights, pair, some, { ...request, strategy: 'native', maxTokens: MAX_TOKENS }, { ...request, maxTokens: MAX_TOKENS }, options, ties);
        for (const g of r.other) {
          if (options.tieMargin === undefined) {
            assert.equal(g.stats.matchedTokens, g.stats.draftedTokens, 'every drafted token is accepted');
            assert.equal(g.stats.matchRate, 1);
          } else {
            // fp16: the draft's denoising window and the target's verify window round differently near ties.
            assert.ok((g.stats.matchRate ?? 0) >= 0.5, `self-draft match rate ${g.stats.matchRate}`);
          }
        }
        t.diagnostic(`${request.rule}: ${summary(r.other)}`);
      }
      const release: Generation[] = [];
      for (const p of some) release.push(await run(pair, p, { strategy: 'simsd', maxTokens: MAX_TOKENS }));
      t.diagnostic(`simsd (release) self-draft: ${summary(release)} (no gate)`);
    });

    test('lookup ≡ native (static and dynamic) with no draft model; guesses from the context are verified and some accepted', async (t) => {
      const weights = tinyPairWeights('perturbed').target;
      const alone = { target: (await pairOf('perturbed')).target }; // the lookup needs no draft model
      // Prompts that repeat themselves give the lookup something to copy; the tiny models' outputs repeat too.
      const repeating = prompts.slice(0, 12).map((p) => [...p, ...p, ...p.slice(0, 3)]);
      for (const request of [{ rule: 'static' }, { rule: 'dynamic', threshold: 0.5 }] as const) {
        const r = await assertIdentical(factory, weights, alone, repeating, { ...request, strategy: 'native', maxTokens: MAX_TOKENS }, { ...request, strategy: 'lookup', maxTokens: MAX_TOKENS }, options, ties);
        const matched = r.other.reduce((a, g) => a + g.stats.matchedTokens, 0);
        t.diagnostic(`lookup ${request.rule}: ${summary(r.other)}; ${matched} looked-up tokens accepted`);
        assert.ok(matched > 0, 'some looked-up tokens were accepted');
        assert.ok(r.other.every((g) => g.stats.draftForwards === 0), 'no draft forwards');
      }
    });

    test('simsd (release) with a 1-layer self-draft is lossless: the temporal window reproduces each draft state', async () => {
      // With one layer, every K/V in the window depends only on (token, position), so MASK_i sees exactly the
      // native state before step t_i (§3 reason 1 starts at layer 1). A wrong mask, position or RoPE copy breaks it.
      const weights = truncatedDraft(tinyPairWeights('unrelated').target, 1);
      const pair = { target: await factory(weights, 'greedy'), draft: await factory(weights, 'greedy') };
      const r = await assertIdentical(factory, weights, pair, prompts.slice(0, 10), { strategy: 'native', maxTokens: MAX_TOKENS }, { strategy: 'simsd', maxTokens: MAX_TOKENS }, options, ties);
      for (const g of r.other) if (options.tieMargin === undefined) assert.equal(g.stats.matchedTokens, g.stats.draftedTokens);
    });

    test('fold ≡ separate clean pass: same output, same committed K/V (bits on the reference), one forward fewer per block', async () => {
      const pair = await pairOf('perturbed');
      const requests: GenerateRequest[] = [
        { strategy: 'native', maxTokens: MAX_TOKENS }, { strategy: 'native', rule: 'dynamic', maxTokens: MAX_TOKENS, threshold: 0.5 },
        { strategy: 'simsd', maxTokens: MAX_TOKENS }, { strategy: 'simsd-exact', maxTokens: MAX_TOKENS },
        { strategy: 'simsd-exact', maxTokens: MAX_TOKENS, blocksPerVerify: 2 }, { strategy: 'simsd', maxTokens: MAX_TOKENS, blocksPerVerify: 2 },
      ];
      for (const request of requests) {
        for (const [i, prompt] of prompts.slice(0, 6).entries()) {
          const runWith = async (fold: boolean) => {
            const caches = await createCaches(pair);
            return { g: await generate(pair, caches, prompt, requestFor(i, { ...request, fold })), caches };
          };
          const folded = await runWith(true);
          const separate = await runWith(false);
          const what = `${request.strategy} K=${request.blocksPerVerify ?? 1}, prompt ${i}`;
          await checkSame(factory, tinyPairWeights('perturbed').target, prompt, requestFor(i, request), separate.g, folded.g, `${what}: fold vs separate`, options, ties);
          const tie = !sameOutput(folded.g, separate.g); // a recorded fp16 tie: the runs went different ways from there
          const kvDiff = tie ? 0 : await cacheDifference(pair.target, folded.caches.target, separate.caches.target);
          for (const c of [folded.caches, separate.caches]) { c.target.dispose(); c.draft?.dispose(); }
          if (tie) continue;
          assert.ok(kvDiff <= options.kvTolerance, `${what}: target K/V differ by ${kvDiff}`);
          assert.equal(folded.g.stats.cleanPasses, 0);
          // fp16: the draft's K/V differ in rounding between the two, so its drafts and the forwards may differ too.
          if (options.tieMargin !== undefined && request.strategy !== 'native') continue;
          assert.equal(folded.g.stats.foldedCleanPasses, separate.g.stats.cleanPasses, `${what}: every clean pass folded`);
          assert.equal(folded.g.stats.targetForwards, separate.g.stats.targetForwards - separate.g.stats.cleanPasses, `${what}: forwards`);
        }
      }
    });

    test('K > 1 blocks per verification ≡ K = 1 (simsd-exact and simsd)', async (t) => {
      const pair = await pairOf('perturbed');
      const some = prompts.slice(0, 10);
      const line: string[] = [];
      for (const strategy of ['simsd-exact', 'simsd'] as const) {
        const one: Generation[] = [];
        for (const [i, p] of some.entries()) one.push(await run(pair, p, requestFor(i, { strategy, maxTokens: 20 })));
        for (const k of strategy === 'simsd' ? [2] : [2, 3]) {
          const many: Generation[] = [];
          for (const [i, p] of some.entries()) many.push(await run(pair, p, requestFor(i, { strategy, maxTokens: 20, blocksPerVerify: k })));
          for (const [i, g] of many.entries()) {
            await checkSame(factory, tinyPairWeights('perturbed').target, some[i], requestFor(i, { strategy, maxTokens: 20 }), one[i], g, `${strategy} K=${k} vs K=1, prompt ${i}`, options, ties);
          }
          line.push(`${strategy} K=${k}: ${summary(many)}`);
        }
        line.push(`${strategy} K=1: ${summary(one)}`);
      }
      for (const l of line) t.diagnostic(l);
    });

    test('cached decoding (prefill + KV cache + fold) ≡ full recompute of the whole sequence every step', async () => {
      const pair = await pairOf('unrelated');
      const debug = await factory(tinyPairWeights('unrelated').target, 'debug');
      const long = [Array.from({ length: 70 }, (_, i) => (i * 31) % 500)]; // two prefill chunks
      for (const [i, prompt] of [...prompts.slice(0, 6), ...long].entries()) {
        for (const threshold of [undefined, 0.5]) {
          const stopIds = new Set([...pair.target.config.stopIds, ...(i % 2 === 1 ? FREQUENT : [])]);
          const want = await recomputeDecode(debug, prompt, { maxTokens: 12, stopIds, threshold });
          const request: GenerateRequest = threshold === undefined ? { strategy: 'native', maxTokens: 12 } : { strategy: 'native', rule: 'dynamic', maxTokens: 12, threshold };
          const got = await run(pair, prompt, requestFor(i, request));
          if (got.tokenIds.join() !== want.tokens.join()) judge(divergence(`prompt ${i}`, want.tokens, got.tokenIds, prompt.length, want.trace), options, ties);
        }
      }
    });

    test('numeric ties: none without a tie margin; with one (fp16), each below it and reported', (t) => {
      for (const tie of ties) t.diagnostic(`tie: ${tie}`);
      t.diagnostic(`${ties.length} divergence(s) at a top-2 margin below ${options.tieMargin ?? 0}`);
      if (options.tieMargin === undefined) assert.equal(ties.length, 0);
    });
  });
}
