// Graph ↔ reference twin (testing.md §3): the ONNX forward equals the naive TS forward on every kind of
// SDAR window, for fp32 weights and for int4 MatMulNBits at accuracy level 0 against the dequantized weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvCache } from '../../src/model/kv';
import { ReferenceModel } from '../../src/model/reference';
import type { ForwardInput, ForwardModel, ForwardOutput } from '../../src/model/types';
import { effectiveWeights, type WeightFormat } from '../../src/model/weights';
import { fixtureConfig, makeRandomWeights, SMALL, TINY } from '../fixtures/tiny-checkpoint';
import { blockCausal, maskOf, openSession, range } from '../model-helpers';

const BL = 4;
const MASK = fixtureConfig().maskTokenId;

interface Scenario { readonly name: string; readonly prefix: number; readonly input: ForwardInput }

function input(ids: number[], positions: number[], mask: Uint8Array, select: number[]): ForwardInput {
  return { ids: Int32Array.from(ids), positions: Int32Array.from(positions), windowMask: mask, selectRows: Int32Array.from(select) };
}

const prompt = range(0, 16).map((i) => (i * 37 + 11) % 500);

/** Each scenario runs after committing `prefix` prompt tokens through a block-causal prefill. */
const SCENARIOS: Scenario[] = [
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

async function runScenario(model: ForwardModel, s: Scenario): Promise<ForwardOutput> {
  const cache = KvCache.forConfig(model.config);
  if (s.prefix > 0) {
    const pre = await model.forward(input(prompt.slice(0, s.prefix), range(0, s.prefix), blockCausal(range(0, s.prefix), BL), [0]), cache);
    cache.commit(pre.newKv, s.prefix, range(0, s.prefix));
  }
  return model.forward(s.input, cache);
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === -Infinity && b[i] === -Infinity) continue;
    d = Math.max(d, Math.abs(a[i] - b[i]));
  }
  return d;
}

for (const [label, shape, weights] of [['TINY fp32', TINY, 'fp32'], ['SMALL fp32', SMALL, 'fp32'], ['TINY int4 level 0', TINY, 'int4'], ['SMALL fp16 weights', SMALL, 'fp16']] as const) {
  test(`ONNX graph ≡ reference forward (${label})`, async (t) => {
    const source = makeRandomWeights(fixtureConfig({ ...shape }), 7);
    const onnx = await openSession(source, { weights: weights as WeightFormat, variant: 'debug' });
    const reference = new ReferenceModel(effectiveWeights(source, weights as WeightFormat), 'debug');
    try {
      for (const s of SCENARIOS) {
        const [a, b] = [await runScenario(onnx, s), await runScenario(reference, s)];
        const logitDiff = maxDiff(a.logits!, b.logits!);
        t.diagnostic(`${s.name}: max |Δlogit| ${logitDiff.toExponential(2)}`);
        assert.ok(logitDiff <= 1e-4, `${s.name}: max |Δlogit| ${logitDiff}`);
        assert.deepEqual([...a.tokenIds], [...b.tokenIds], `${s.name}: argmax differs`);
        assert.ok(maxDiff(a.tokenProbs, b.tokenProbs) <= 1e-5, `${s.name}: probabilities differ`);
        a.newKv.forEach((kv, layer) => {
          assert.ok(maxDiff(kv.key, b.newKv[layer].key) <= 1e-4, `${s.name}: layer ${layer} new K differs`);
          assert.ok(maxDiff(kv.value, b.newKv[layer].value) <= 1e-4, `${s.name}: layer ${layer} new V differs`);
        });
        for (const id of a.tokenIds) assert.notEqual(id, MASK, 'the MASK id is never chosen');
      }
    } finally {
      await onnx.close();
    }
  });
}

test('KV cache reuse: prefill in pieces + commits ≡ one full prefill', async () => {
  const source = makeRandomWeights(fixtureConfig({ ...TINY }), 3);
  const onnx = await openSession(source, { variant: 'debug' });
  try {
    const probe = input([prompt[12], MASK, MASK, MASK], range(12, 16), maskOf(4, () => true), [1, 2, 3]);
    const full = KvCache.forConfig(onnx.config);
    const once = await onnx.forward(input(prompt.slice(0, 12), range(0, 12), blockCausal(range(0, 12), BL), [0]), full);
    full.commit(once.newKv, 12, range(0, 12));
    const pieces = KvCache.forConfig(onnx.config);
    for (const [from, to] of [[0, 4], [4, 12]]) {
      const out = await onnx.forward(input(prompt.slice(from, to), range(from, to), blockCausal(range(from, to), BL), [0]), pieces);
      pieces.commit(out.newKv, to - from, range(0, to - from));
    }
    const [a, b] = [await onnx.forward(probe, full), await onnx.forward(probe, pieces)];
    assert.ok(maxDiff(a.logits!, b.logits!) <= 1e-5, `logits differ by ${maxDiff(a.logits!, b.logits!)}`);
    assert.deepEqual([...a.tokenIds], [...b.tokenIds]);
  } finally {
    await onnx.close();
  }
});

test('capacity growth keeps committed K/V (257 tokens cross the first 256-slot bucket)', async () => {
  const source = makeRandomWeights(fixtureConfig({ ...TINY }), 5);
  const reference = new ReferenceModel(source);
  const onnx = await openSession(source);
  try {
    const long = range(0, 260).map((i) => (i * 13 + 5) % 500);
    const caches = [KvCache.forConfig(onnx.config), KvCache.forConfig(onnx.config)];
    for (const [model, cache] of [[onnx, caches[0]], [reference, caches[1]]] as const) {
      for (let from = 0; from < 256; from += 64) {
        const out = await model.forward(input(long.slice(from, from + 64), range(from, from + 64), blockCausal(range(from, from + 64), BL), [0]), cache);
        cache.commit(out.newKv, 64, range(0, 64));
      }
      const out = await model.forward(input(long.slice(256, 260), range(256, 260), blockCausal(range(256, 260), BL), [0]), cache);
      cache.commit(out.newKv, 4, range(0, 4));
    }
    assert.equal(caches[0].capacity, 512);
    const probe = input([MASK, MASK, MASK, MASK], range(260, 264), maskOf(4, () => true), [0, 1, 2, 3]);
    const [a, b] = [await onnx.forward(probe, caches[0]), await reference.forward(probe, caches[1])];
    assert.deepEqual([...a.tokenIds], [...b.tokenIds]);
    assert.ok(maxDiff(a.tokenProbs, b.tokenProbs) <= 1e-5);
  } finally {
    await onnx.close();
  }
});
