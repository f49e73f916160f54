// Acceptance rules (decoding.md §2.4 greedy-match, §3 replay) on hand-made ids.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChoice, greedyMatch, replayMatch, sameChoice } from '../../src/decode/acceptance';
import type { StepChoice } from '../../src/decode/types';

const ids = (...v: number[]) => Int32Array.from(v);
const choice = (positions: number[], tokens: number[]): StepChoice => ({ positions: ids(...positions), tokens: ids(...tokens) });

describe('greedy-match', () => {
  test('full match: every drafted token, no extra token', () => {
    const v = greedyMatch(ids(5, 6, 7), ids(5, 6, 7));
    assert.equal(v.matched, 3);
    assert.deepEqual(Array.from(v.accepted), [5, 6, 7]);
  });

  test('first mismatch: the matched prefix plus the correction token; later matches do not count', () => {
    const v = greedyMatch(ids(5, 6, 7, 8), ids(5, 9, 7, 8));
    assert.equal(v.matched, 1);
    assert.deepEqual(Array.from(v.accepted), [5, 9]);
  });

  test('mismatch at the first position: only the correction', () => {
    assert.deepEqual(Array.from(greedyMatch(ids(1, 2), ids(3, 2)).accepted), [3]);
  });
});

describe('replay', () => {
  const draft = [choice([2], [10]), choice([0], [11]), choice([1, 3], [12, 13])];

  test('counts leading steps with the same positions and tokens', () => {
    assert.equal(replayMatch(draft, draft), 3);
    assert.equal(replayMatch(draft, [choice([2], [10]), choice([0], [99]), choice([1, 3], [12, 13])]), 1);
    assert.equal(replayMatch(draft, [choice([1], [10])]), 0);
  });

  test('the same tokens at other positions, or a different set size, are a divergence', () => {
    assert.equal(sameChoice(choice([1, 3], [12, 13]), choice([1], [12])), false);
    assert.equal(sameChoice(choice([1, 3], [12, 13]), choice([1, 2], [12, 13])), false);
    assert.equal(sameChoice(choice([1, 3], [12, 13]), choice([1, 3], [12, 13])), true);
  });

  test('applyChoice writes holes only', () => {
    const mask = 99;
    assert.deepEqual(Array.from(applyChoice(ids(1, mask, mask), choice([2], [7]), mask)), [1, mask, 7]);
    assert.throws(() => applyChoice(ids(1, mask), choice([0], [7]), mask), /already known/);
  });
});
