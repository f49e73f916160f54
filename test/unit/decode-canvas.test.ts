// Geometry, stop ids, budget and early exit (decoding.md §1.1, §1.4) on hand-made canvases; parameter validation.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initialState, nextBlock, cutOutput } from '../../src/decode/canvas';
import { resolveParams } from '../../src/decode/params';
import { RequestError } from '../../src/model/errors';
import { fixtureConfig } from '../fixtures/tiny-checkpoint';

const config = fixtureConfig();
const M = config.maskTokenId;
const STOP = config.stopIds[0];
const params = (maxTokens = 100) => resolveParams({ strategy: 'native', maxTokens, stopIds: [42] }, config, null);
const canvas = (...v: number[]) => Int32Array.from(v);

describe('geometry (§1.1)', () => {
  test('blocks count from position 0; the leftover opens the first canvas', () => {
    const s = initialState([1, 2, 3, 4, 5, 6], params());
    assert.equal(s.blockStart, 4);
    assert.deepEqual(Array.from(s.canvas), [5, 6, M, M]);
    assert.equal(s.firstGenerated, 2);
  });

  test('a prompt on a block edge has no leftover', () => {
    const s = initialState([1, 2, 3, 4], params());
    assert.equal(s.blockStart, 4);
    assert.deepEqual(Array.from(s.canvas), [M, M, M, M]);
    assert.equal(s.firstGenerated, 0);
  });
});

describe('cutOutput (§1.4)', () => {
  const p = params();
  test('the leading known generated tokens; a hole keeps the output open', () => {
    assert.deepEqual(cutOutput(canvas(1, 7, M, 8), 1, 100, p), { tokens: [7], reason: null });
  });

  test('the first stop id with every earlier slot known ends the output (early exit)', () => {
    assert.deepEqual(cutOutput(canvas(7, STOP, M, M), 0, 100, p), { tokens: [7], reason: 'stop' });
    assert.deepEqual(cutOutput(canvas(7, 42, 9, 9), 0, 100, p), { tokens: [7], reason: 'stop' }); // a user stop id
  });

  test('a stop after a hole does not end the output yet', () => {
    assert.deepEqual(cutOutput(canvas(M, STOP, 1, 2), 0, 100, p), { tokens: [], reason: null });
  });

  test('stop ids in the prompt leftover are not checked', () => {
    assert.deepEqual(cutOutput(canvas(STOP, 5, M, M), 1, 100, p), { tokens: [5], reason: null });
  });

  test('the budget counts tokens and truncates the block', () => {
    assert.deepEqual(cutOutput(canvas(1, 2, 3, M), 0, 2, p), { tokens: [1, 2], reason: 'length' });
    assert.deepEqual(cutOutput(canvas(1, 2, 3, 4), 0, 4, p), { tokens: [1, 2, 3, 4], reason: 'length' });
    assert.deepEqual(cutOutput(canvas(1, M, 3, 4), 0, 1, p), { tokens: [1], reason: 'length' }); // later holes do not matter
  });

  test('nextBlock moves the generated tokens to the output and opens a fresh canvas', () => {
    const s = initialState([1, 2, 3, 4, 5], p);
    const full = { ...s, canvas: canvas(5, 6, 7, 8), step: 3 };
    const next = nextBlock(full, p, null, null);
    assert.deepEqual(next.output, [6, 7, 8]);
    assert.equal(next.blockStart, 8);
    assert.equal(next.firstGenerated, 0);
    assert.equal(next.step, 0);
    assert.throws(() => nextBlock(s, p, null, null), /holes/);
  });
});

describe('parameters', () => {
  const bad = (extra: object, pattern: RegExp) =>
    assert.throws(() => resolveParams({ strategy: 'native', maxTokens: 8, ...extra }, config, null), (e: Error) => e instanceof RequestError && pattern.test(e.message));

  test('defaults: static S = bl, τ = 0.9, fold on, K = 1, greedy, the model stop ids', () => {
    const p = resolveParams({ strategy: 'simsd-exact', maxTokens: 8 }, config, null);
    assert.deepEqual(p.rule, { kind: 'static', perStep: 1 });
    assert.deepEqual(resolveParams({ strategy: 'native', rule: 'dynamic', maxTokens: 8 }, config, null).rule, { kind: 'dynamic', perStep: 1, threshold: 0.9 });
    assert.equal(p.fold, true);
    assert.equal(p.blocksPerVerify, 1);
    assert.equal(p.sampling, null);
    assert.deepEqual([...p.stopIds].sort(), [...config.stopIds].sort());
    assert.deepEqual([...resolveParams({ strategy: 'simsd', maxTokens: 8, modelStopIds: false, stopIds: [3] }, config, null).stopIds], [3]);
  });

  test('invalid values raise a typed error that names the setting', () => {
    bad({ maxTokens: -1 }, /maxTokens/);
    bad({ stepsPerBlock: 3 }, /divide/);
    bad({ threshold: 1.5 }, /threshold/);
    bad({ temperature: -1 }, /temperature/);
    bad({ topK: 65 }, /topK/);
    bad({ seed: 2 ** 32 }, /seed/);
    bad({ blocksPerVerify: 0 }, /blocksPerVerify/);
    bad({ stopIds: [config.vocabSize] }, /stop id/);
  });

  test('the draft must share the block length, MASK id and vocabulary', () => {
    assert.throws(() => resolveParams({ strategy: 'simsd', maxTokens: 8 }, config, { ...config, blockLength: 8 }), /block length/);
    assert.throws(() => resolveParams({ strategy: 'simsd', maxTokens: 8 }, config, { ...config, vocabSize: 600 }), /vocabulary/);
  });
});
