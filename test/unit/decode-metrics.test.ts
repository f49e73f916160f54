// Metrics (decoding.md §8) and the auto choice, on hand-made records.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { autoCandidates, chooseStrategy, updateEstimates, type AutoEstimates } from '../../src/decode/auto';
import { combineStats, summarize } from '../../src/decode/metrics';
import type { DecodeStats } from '../../src/protocol/messages';

const ids = (...v: number[]) => Int32Array.from(v);
const counter = (forwards: number) => ({ forwards, rows: forwards * 4, cleanPasses: 0, foldedCleanPasses: 1 });

describe('summarize', () => {
  // Prompt of 10 tokens; output of 7 tokens (positions 10..16), a stop at 17, a token after it at 18.
  const stats = summarize({
    strategy: 'simsd-exact', newTokens: 7, cutoff: 17, target: counter(4), draft: counter(9),
    verifications: [
      { drafted: ids(10, 11, 12), matched: ids(10, 11, 12), accepted: ids(10, 11, 12) },
      { drafted: ids(13, 14, 15), matched: ids(13), accepted: ids(13, 14) },
      { drafted: ids(15, 16, 17, 18), matched: ids(15, 16, 17, 18), accepted: ids(15, 16, 17, 18) },
    ],
    prefillTokens: 8, prefillMs: 5, decodeMs: 70,
  });

  test('accept length: tokens made final per verification, cut at the stop', () => {
    assert.deepEqual(stats.acceptLength, { mean: 7 / 3, histogram: [0, 0, 2, 1] });
  });

  test('match rate weighted by tokens, cut at the stop', () => {
    assert.equal(stats.draftedTokens, 8);
    assert.equal(stats.matchedTokens, 6);
    assert.equal(stats.matchRate, 6 / 8);
  });

  test('forwards per token and tokens/s from decode time only', () => {
    assert.equal(stats.targetForwardsPerToken, 4 / 7);
    assert.equal(stats.draftForwardsPerToken, 9 / 7);
    assert.equal(stats.tokPerS, 100);
    assert.equal(stats.prefillTokens, 8);
  });

  test('native strategies have no accept length or match rate', () => {
    const s = summarize({ strategy: 'native', newTokens: 4, cutoff: 4, target: counter(5), draft: null, verifications: [], prefillTokens: 0, prefillMs: 0, decodeMs: 10 });
    assert.equal(s.acceptLength, null);
    assert.equal(s.matchRate, null);
    assert.equal(s.targetForwardsPerToken, 1.25);
  });

  test('combineStats: ratios of sums', () => {
    const c = combineStats([stats, stats]);
    assert.equal(c.newTokens, 14);
    assert.deepEqual(c.acceptLength?.histogram, [0, 0, 4, 2]);
    assert.equal(c.targetForwardsPerToken, 8 / 14);
    assert.equal(c.tokPerS, 100);
  });
});

const stat = (strategy: DecodeStats['strategy'], newTokens: number, decodeMs: number): DecodeStats => summarize({
  strategy, newTokens, cutoff: newTokens, target: counter(1), draft: null, verifications: [], prefillTokens: 0, prefillMs: 0, decodeMs,
});

describe('auto', () => {
  const cands = autoCandidates(undefined, true);

  test('candidates: the lossless ones (native, lookup, simsd-exact); without a draft those that need none', () => {
    assert.deepEqual(cands, ['native', 'lookup', 'simsd-exact']);
    assert.deepEqual(autoCandidates(undefined, false), ['native', 'lookup']);
    assert.deepEqual(autoCandidates(['native', 'simsd'], false), ['native']);
  });

  test('without a baseline measurement, never speculate', () => {
    assert.equal(chooseStrategy({}, cands, 'native'), 'native');
    const onlySpec = updateEstimates({}, stat('simsd-exact', 100, 10));
    assert.equal(chooseStrategy(onlySpec, cands, 'native'), 'native');
  });

  test('picks the fastest, but speculation must beat native by the margin', () => {
    let e: AutoEstimates = updateEstimates({}, stat('native', 100, 1000)); // 100 tok/s
    e = updateEstimates(e, stat('simsd-exact', 104, 1000));                      // 104 tok/s: within 5 %
    assert.equal(chooseStrategy(e, cands, 'native'), 'native');
    e = updateEstimates(e, stat('simsd-exact', 200, 1000));
    assert.equal(chooseStrategy(e, cands, 'native'), 'simsd-exact');
  });

  test('the running estimate follows the latest generations: a slower device flips the choice back', () => {
    let e: AutoEstimates = updateEstimates(updateEstimates({}, stat('native', 100, 1000)), stat('simsd-exact', 150, 1000));
    assert.equal(chooseStrategy(e, cands, 'native'), 'simsd-exact');
    for (let i = 0; i < 5; i++) e = updateEstimates(e, stat('simsd-exact', 50, 1000));
    assert.equal(chooseStrategy(e, cands, 'native'), 'native');
    assert.equal(e['simsd-exact']?.generations, 6);
  });

  test('a generation without tokens does not move the estimate', () => {
    const e = updateEstimates({}, stat('native', 100, 1000));
    assert.equal(updateEstimates(e, stat('native', 0, 5)), e);
  });
});
