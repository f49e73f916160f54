// The context lookup (docs/decoding.md §10) on hand-made ids: what it finds, what it proposes, when it declines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { continuation, lookupBlock, LOOKUP_NGRAM } from '../../src/decode/lookup';
import { staticRule } from '../../src/decode/reveal';
import type { DecodeParams, DecodeState } from '../../src/decode/types';

const M = 99; // MASK
const params = (perStep = 1): DecodeParams => ({
  blockLength: 4, maskId: M, stopIds: new Set([98]), maxTokens: 64, rule: { ...staticRule(4, 4 / perStep) }, sampling: null, fold: true, blocksPerVerify: 1,
});
const state = (canvas: number[], output: number[] = [], firstGenerated = 0, blockStart = 8): DecodeState => ({
  blockStart, canvas: Int32Array.from(canvas), firstGenerated, step: 0, output, targetPending: null, draftPending: null,
});

test('continuation: the tokens after an earlier occurrence of the last n-gram (the most recent full one), or null', () => {
  assert.equal(LOOKUP_NGRAM, 3);
  assert.deepEqual(continuation([1, 2, 3, 4, 5, 9, 1, 2, 3], 4), [4, 5, 9, 1]);
  assert.deepEqual(continuation([1, 2, 3, 4, 7, 1, 2, 3, 5, 6, 1, 2, 3], 2), [5, 6], 'the most recent full occurrence wins');
  assert.deepEqual(continuation([1, 2, 3, 4, 5, 6, 9, 1, 2, 3, 1, 2, 3], 4), [4, 5, 6, 9], 'a full continuation beats a more recent short one');
  assert.deepEqual(continuation([7, 7, 7, 7, 7], 4), [7, 7], 'overlapping occurrences: the one with the most after it');
  assert.equal(continuation([1, 2, 3, 4, 1, 2, 5], 4), null, 'only 2 tokens match');
  assert.equal(continuation([1, 2, 3], 4), null);
});

test('lookupBlock: the holes filled left to right, n_s per step, from the prompt and the output', () => {
  const prompt = [10, 11, 12, 13, 14, 15, 16, 17];
  // output so far ends with 11 12 and the canvas starts with 13: the lookup continues 14 15 16.
  const b = lookupBlock(prompt, state([13, M, M, M], [5, 11, 12], 0, 12), params());
  assert.ok(b !== null);
  assert.deepEqual(b.steps.map((s) => [Array.from(s.positions), Array.from(s.tokens)]), [[[1], [14]], [[2], [15]], [[3], [16]]]);
  assert.deepEqual(Array.from(b.canvas), [13, 14, 15, 16]);
  assert.deepEqual(Array.from(b.start), [13, M, M, M]);
  const two = lookupBlock(prompt, state([13, M, M, M], [5, 11, 12], 0, 12), params(2));
  assert.deepEqual(two?.steps.map((s) => Array.from(s.positions)), [[1, 2], [3]]);
});

test('lookupBlock declines: holes not one run at the end, no match, a MASK to copy; stops at a stop id', () => {
  const prompt = [10, 11, 12, 13, 14, 15, 16, 17];
  assert.equal(lookupBlock(prompt, state([M, 14, M, M], [10, 11, 12]), params()), null, 'a known slot after a hole');
  assert.equal(lookupBlock(prompt, state([M, M, M, M], [40, 41, 42]), params()), null, 'no earlier occurrence');
  assert.equal(lookupBlock([1, 2, 3, M, 5, 1, 2, 3], state([M, M, M, M]), params()), null, 'the guess starts with a MASK id');
  // The leftover of the prompt sits in the first canvas: [12 13 | holes], firstGenerated 2.
  const leftover = lookupBlock([10, 11, 12, 13, 98, 7, 10, 11, 12, 13], state([12, 13, M, M], [], 2, 8), params());
  assert.deepEqual(leftover?.steps.map((s) => Array.from(s.tokens)), [[98]], 'a stop id ends the output: nothing after it is drafted');
});
