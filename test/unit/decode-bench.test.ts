// runBench / formatBenchTable on a tiny random pair (ReferenceModel): the report's shape, identity and ratios.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { benchJsonLine, formatBenchTable, runBench } from '../../src/cli/bench';
import { makePair, randomPrompts, referenceFactory, tinyPairWeights } from '../decode-helpers';

describe('bench', () => {
  test('every arm on the same prompts; simsd-exact identical to native; ratios against both baselines', async (t) => {
    const pair = await makePair(tinyPairWeights('perturbed'), referenceFactory);
    const report = await runBench(pair, { prompts: randomPrompts(4, 21), maxTokens: 8, base: { threshold: 0.5 } });
    assert.deepEqual(Object.keys(report.arms), ['native/static', 'native/dynamic', 'simsd/static', 'simsd-exact/static', 'simsd-exact/dynamic', 'lookup/static']);
    const a = report.arms;
    assert.equal(a['native/static'].identicalToTarget, 1);
    assert.equal(a['native/static'].speedupVsStatic, 1);
    assert.equal(a['native/dynamic'].speedupVsDynamic, 1);
    assert.equal(a['simsd-exact/static'].identicalToTarget, 1);
    assert.equal(a['simsd-exact/dynamic'].identicalToNative, 1);
    assert.equal(a['lookup/static'].identicalToTarget, 1);
    assert.equal(a['native/static'].acceptLength, null);
    assert.ok((a['simsd-exact/static'].acceptLength ?? 0) >= 1);
    assert.ok(a['simsd-exact/static'].targetForwardsPerToken < a['native/static'].targetForwardsPerToken);
    for (const arm of Object.values(a)) assert.ok(arm.tokPerS > 0 && arm.newTokens > 0);
    const table = formatBenchTable(report);
    t.diagnostic(`\n${table}`);
    assert.equal(table.split('\n').length, 3 + 6);
    const json = JSON.parse(benchJsonLine(report, { device: 'test', ep: 'reference', precision: 'fp32', models: { target: 't', draft: 'd' } }));
    assert.equal(json.strategy['simsd-exact/static'].identicalToTarget, 1);
  });

  test('without a draft only the arms that need none run (native, lookup)', async () => {
    const pair = await makePair(tinyPairWeights('perturbed'), referenceFactory);
    const report = await runBench({ target: pair.target }, { prompts: randomPrompts(2, 22), maxTokens: 4, warmup: false });
    assert.deepEqual(Object.keys(report.arms), ['native/static', 'native/dynamic', 'lookup/static']);
  });
});
