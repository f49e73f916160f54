// Graph ↔ reference twin (testing.md §3): the ONNX forward equals the naive TS forward on every kind of
// SDAR window, for fp32 weights and for int4 MatMulNBits at accuracy level 0 against the dequantized weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostKvCache } from '../../src/model/kv';
import { ReferenceModel } from '../../src/model/reference';
import { effectiveWeights, type WeightFormat } from '../../src/model/weights';
import { fixtureConfig, makeRandomWeights, SMALL, TINY } from '../fixtures/tiny-checkpoint';
import { blockCausal, hostKv, maskOf, openSession, range } from '../model-helpers';
import { assertSameForward, BL, input, MASK, maxDiff, prompt, SCENARIOS } from '../graph-scenarios';



for (const [label, shape, weights] of [['TINY fp32', TINY, 'fp32'], ['SMALL fp32', SMALL, 'fp32'], ['TINY int4 level 0', TINY, 'int4'], ['SMALL fp16 weights', SMALL, 'fp16']] as const) {
  test(`ONNX graph ≡ reference forward (${label})`, async (t) => {
    const source = makeRandomWeights(fixtureConfig({ ...shape }), 7);
    const onnx = await openSession(source, { weights: weights as WeightFormat, variant: 'debug' });
    const reference = new ReferenceModel(effectiveWeights(source, weights as WeightFormat), 'debug');
    try {
      for (const s of SCENARIOS) {
        const [a, b] = await assertSameForward((line) => t.diagnostic(line), s, onnx, reference);
        hostKv(a).forEach((kv, layer) => {
          assert.ok(maxDiff(kv.key, hostKv(b)[layer].key) <= 1e-4, `${s.name}: layer ${layer} new K differs`);
          assert.ok(maxDiff(kv.value, hostKv(b)[layer].value) <= 1e-4, `${s.name}: layer ${layer} new V differs`);
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
    const full = HostKvCache.forConfig(onnx.config);
    const once = await onnx.forward(input(prompt.slice(0, 12), range(0, 12), blockCausal(range(0, 12), BL), [0]), full);
    await full.commit(once, range(0, 12));
    const pieces = HostKvCache.forConfig(onnx.config);
    for (const [from, to] of [[0, 4], [4, 12]]) {
      const out = await onnx.forward(input(prompt.slice(from, to), range(from, to), blockCausal(range(from, to), BL), [0]), pieces);
      await pieces.commit(out, range(0, to - from));
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
    const caches = [HostKvCache.forConfig(onnx.config), HostKvCache.forConfig(onnx.config)];
    for (const [model, cache] of [[onnx, caches[0]], [reference, caches[1]]] as const) {
      for (let from = 0; from < 256; from += 64) {
        const out = await model.forward(input(long.slice(from, from + 64), range(from, from + 64), blockCausal(range(from, from + 64), BL), [0]), cache);
        await cache.commit(out, range(0, 64));
      }
      const out = await model.forward(input(long.slice(256, 260), range(256, 260), blockCausal(range(256, 260), BL), [0]), cache);
      await cache.commit(out, range(0, 4));
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
