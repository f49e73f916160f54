// WebGPU twins (testing.md §3, §9), run for real on whatever Vulkan driver the machine has (CI: Mesa ≥ 25 lavapipe, a
// software driver; correctness only, never timing): the fp32 graph with its K/V kept on the device ≡ the CPU; the fp16
// graph ≡ the fp32 reference within the fp16 tolerance; a device commit ≡ a host commit; a forward's host↔device bytes
// do not grow with the cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostKvCache } from '../../src/model/kv';
import { ReferenceModel } from '../../src/model/reference';
import type { ModelSession } from '../../src/model/session';
import type { ForwardOutput } from '../../src/model/types';
import { effectiveWeights, type WeightFormat } from '../../src/model/weights';
import { fixtureConfig, makeRandomWeights, SMALL, TINY } from '../fixtures/tiny-checkpoint';
import { assertSameForward, BL, input, MASK, maxDiff, runScenario, SCENARIOS } from '../graph-scenarios';
import { blockCausal, maskOf, openSession, range } from '../model-helpers';
import { FP16_LOGIT_RELATIVE, requireWebGpu } from '../webgpu-helpers';


/** Rows whose best logit leads the runner-up by more than `margin`: there the argmax must agree. */
function decidedRows(logits: Float32Array, vocab: number, margin: number): number[] {
  const rows: number[] = [];
  for (let r = 0; r < logits.length / vocab; r++) {
    const row = [...logits.subarray(r * vocab, (r + 1) * vocab)].sort((x, y) => y - x);
    if (row[0] - row[1] > margin) rows.push(r);
  }
  return rows;
}

test('WebGPU fp32 with the KV cache on the device ≡ CPU (logits, ids, probabilities) in every window', async (t) => {
  await requireWebGpu();
  const source = makeRandomWeights(fixtureConfig({ ...SMALL }), 2);
  const cpu = await openSession(source, { variant: 'debug' });
  const gpu = await openSession(source, { variant: 'debug', ep: 'webgpu' });
  try {
    assert.equal(gpu.kv, 'device');
    for (const s of SCENARIOS) await assertSameForward((line) => t.diagnostic(line), s, gpu, cpu);
  } finally {
    await Promise.all([cpu.close(), gpu.close()]);
  }
});

for (const weights of ['fp16', 'int4'] as const satisfies readonly WeightFormat[]) {
  test(`WebGPU fp16 graph, ${weights} weights, K/V on the device ≡ the fp32 reference within the fp16 tolerance`, async (t) => {
    await requireWebGpu();
    const source = makeRandomWeights(fixtureConfig({ ...SMALL }), 4);
    const reference = new ReferenceModel(effectiveWeights(source, weights), 'debug');
    const gpu = await openSession(source, { variant: 'debug', ep: 'webgpu', precision: 'fp16', weights });
    try {
      assert.equal(gpu.precision, 'fp16');
      const V = gpu.config.vocabSize;
      for (const s of SCENARIOS) {
        const [a, b] = [await runScenario(gpu, s), await runScenario(reference, s)];
        const d = maxDiff(a.logits!, b.logits!);
        const scale = Math.max(...[...b.logits!].filter(Number.isFinite).map(Math.abs));
        t.diagnostic(`${s.name}: max |Δlogit| ${d.toExponential(2)} (max |logit| ${scale.toFixed(1)}), max |Δp| ${maxDiff(a.tokenProbs, b.tokenProbs).toExponential(2)}`);
        const bound = FP16_LOGIT_RELATIVE * scale;
        assert.ok(d <= bound, `${s.name}: max |Δlogit| ${d} > ${bound}`);
        const decided = decidedRows(b.logits!, V, 2 * bound);
        assert.ok(decided.length > 0, `${s.name}: some rows are decided`);
        for (const r of decided) assert.equal(a.tokenIds[r], b.tokenIds[r], `${s.name}: row ${r} argmax differs`);
        assert.ok(maxDiff(a.tokenProbs, b.tokenProbs) <= 2e-2, `${s.name}: probabilities differ`);
      }
    } finally {
      await gpu.close();
    }
  });
}

test('a device commit ≡ a host commit: the cache read back equals the CPU cache, across a capacity bucket', async () => {
  await requireWebGpu();
  const source = makeRandomWeights(fixtureConfig({ ...TINY }), 5);
  const cpu = await openSession(source);
  const gpu = await openSession(source, { ep: 'webgpu' });
  try {
    const long = range(0, 264).map((i) => (i * 13 + 5) % 500);
    const host = HostKvCache.forConfig(cpu.config);
    const device = await gpu.createCache();
    try {
      for (const [model, cache] of [[cpu, host], [gpu, device]] as const) {
        for (let from = 0; from < 256; from += 64) {
          const out = await model.forward(input(long.slice(from, from + 64), range(from, from + 64), blockCausal(range(from, from + 64), BL), [0]), cache);
          await cache.commit(out, range(0, 64));
        }
        // A partial commit of chosen rows, out of order, crossing into the second 256-slot bucket.
        const out = await model.forward(input(long.slice(256, 264), range(256, 264), blockCausal(range(256, 264), BL), [0]), cache);
        await cache.commit(out, [5, 2, 0, 7]);
        cache.truncate(258);
        const again = await model.forward(input(long.slice(256, 260), range(258, 262), maskOf(4, () => true), [0]), cache);
        await cache.commit(again, [1, 3]);
      }
      assert.equal(device.capacity, 512);
      assert.equal(device.length, host.length);
      const back = await gpu.readCache(device);
      const D = cpu.config.headDim;
      let worst = 0;
      back.forEach((kv, layer) => {
        for (let h = 0; h < cpu.config.numKvHeads; h++) {
          const at = (slot: number) => (h * 512 + slot) * D;
          worst = Math.max(worst,
            maxDiff(kv.key.subarray(at(0), at(host.length)), host.layers[layer].key.subarray(at(0), at(host.length))),
            maxDiff(kv.value.subarray(at(0), at(host.length)), host.layers[layer].value.subarray(at(0), at(host.length))));
        }
      });
      assert.ok(worst <= 1e-5, `device cache differs from the host cache by ${worst}`);
    } finally {
      device.dispose();
    }
  } finally {
    await Promise.all([cpu.close(), gpu.close()]);
  }
});

test('host↔device bytes of a forward do not grow with the cache when K/V stay on the device (they do when copied)', async (t) => {
  await requireWebGpu();
  const source = makeRandomWeights(fixtureConfig({ ...TINY }), 6);
  const device = await openSession(source, { ep: 'webgpu', precision: 'fp16', weights: 'fp16' });
  const copied = await openSession(source, { ep: 'webgpu', kv: 'host' });
  try {
    const L = 16;
    const perForward = async (model: ModelSession, cacheLength: number) => {
      const cache = await model.createCache(cacheLength);
      try {
        for (let from = 0; from < cacheLength; from += 64) {
          const n = Math.min(64, cacheLength - from);
          const out = await model.forward(input(range(from, from + n).map((i) => i % 400), range(from, from + n), blockCausal(range(from, from + n), BL), [0]), cache);
          await cache.commit(out, range(0, n));
        }
        const before = model.transferredBytes;
        const probe = input(range(0, L).map(() => MASK), range(cacheLength, cacheLength + L), maskOf(L, () => true), range(0, L));
        const out: ForwardOutput = await model.forward(probe, cache);
        const bytes = model.transferredBytes - before;
        const capacity = cache.capacity;
        const beforeCommit = model.transferredBytes;
        await cache.commit(out, range(0, BL));
        return { bytes, capacity, commitBytes: model.transferredBytes - beforeCommit };
      } finally {
        cache.dispose();
      }
    };
    const [d64, d512, c64, c512] = [await perForward(device, 64), await perForward(device, 512), await perForward(copied, 64), await perForward(copied, 512)];
    t.diagnostic(`device K/V: ${d64.bytes} B at cache 64, ${d512.bytes} B at 512; copied K/V: ${c64.bytes} B, ${c512.bytes} B`);
    // The [L, C+L] bool mask is the only input that grows with the capacity fed.
    assert.equal(d512.bytes - d64.bytes, L * (d512.capacity - d64.capacity), 'only the mask grows');
    assert.ok(c512.bytes - c64.bytes > 10 * (d512.bytes - d64.bytes), 'copying K/V moves the whole cache every forward');
    assert.ok(d64.bytes < c64.bytes);
    assert.ok(d64.commitBytes <= 64, `a device commit uploads only its row indices (${d64.commitBytes} B)`);
  } finally {
    await Promise.all([device.close(), copied.close()]);
  }
});
