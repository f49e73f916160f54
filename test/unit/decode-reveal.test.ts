// Reveal rules (decoding.md §1.2) on hand-made confidences.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dynamicRule, reveal, staticRule } from '../../src/decode/reveal';

const holes = Int32Array.of(0, 1, 2, 3);
const list = (a: Int32Array) => Array.from(a);

describe('static rule', () => {
  test('one reveal per step at S = bl: the most confident hole', () => {
    assert.deepEqual(list(reveal(staticRule(4, 4), holes, [0.2, 0.9, 0.5, 0.1])), [1]);
  });

  test('ties go to the lower position', () => {
    assert.deepEqual(list(reveal(staticRule(4, 4), holes, [0.3, 0.7, 0.7, 0.7])), [1]);
    assert.deepEqual(list(reveal(staticRule(4, 2), holes, [0.7, 0.1, 0.7, 0.7])), [0, 2]);
  });

  test('n_s = bl / S holes per step, never more than the holes left', () => {
    assert.deepEqual(list(reveal(staticRule(8, 4), Int32Array.of(3, 5, 6), [0.1, 0.8, 0.4])), [5, 6]);
    assert.deepEqual(list(reveal(staticRule(8, 4), Int32Array.of(7), [0.1])), [7]);
  });

  test('only holes are revealed, in ascending position order', () => {
    assert.deepEqual(list(reveal(staticRule(4, 1), Int32Array.of(1, 3), [0.9, 0.95])), [1, 3]);
  });
});

describe('dynamic rule', () => {
  const rule = dynamicRule(4, 4, 0.9);

  test('every hole strictly above τ', () => {
    assert.deepEqual(list(reveal(rule, holes, [0.95, 0.2, 0.91, 0.99])), [0, 2, 3]);
  });

  test('a confidence equal to τ does not count', () => {
    assert.deepEqual(list(reveal(rule, holes, [0.9, 0.2, 0.3, 0.1])), [0]); // falls back to the top-1
    assert.deepEqual(list(reveal(rule, holes, [0.9, 0.2, 0.3, 0.9000001])), [3]);
  });

  test('too few above τ: the top n_s by confidence', () => {
    assert.deepEqual(list(reveal(rule, holes, [0.5, 0.6, 0.3, 0.6])), [1]);
    assert.deepEqual(list(reveal(dynamicRule(4, 2, 0.9), holes, [0.95, 0.6, 0.3, 0.7])), [0, 3]);
  });

  test('a whole block in one step', () => {
    assert.deepEqual(list(reveal(rule, holes, [0.95, 0.96, 0.97, 0.98])), [0, 1, 2, 3]);
  });

  test('no holes, no reveals', () => {
    assert.deepEqual(list(reveal(rule, new Int32Array(0), [])), []);
  });
});
