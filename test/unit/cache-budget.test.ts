// The prefix-cache budget: LRU by bytes that re-weighs a cache after it grew, and keepLength's block arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrefixCacheBudget } from '../../src/cache/budget';
import { FilePrefixCache } from '../../src/cache/prefix-cache';
import { fixtureConfig, TINY } from '../fixtures/tiny-checkpoint';

const config = fixtureConfig({ ...TINY });

test('a cache that grew is re-weighed, and the least recently used files are evicted to stay in budget', () => {
  const one = new FilePrefixCache(4, config, null);
  const perBucket = one.bytes; // 256 slots
  const budget = new PrefixCacheBudget(3 * perBucket);
  const caches = ['a', 'b', 'c'].map((key) => {
    const cache = key === 'a' ? one : new FilePrefixCache(4, config, null);
    assert.ok(budget.touch(key, cache));
    return cache;
  });
  assert.equal(budget.files, 3);
  caches[2].target.reserve(512); // file c grows to two buckets
  budget.touch('c', caches[2]);
  assert.equal(budget.bytes, caches[2].bytes + perBucket, 'the oldest file (a) was evicted');
  assert.equal(budget.get('a'), undefined);
  assert.ok(budget.bytes <= 3 * perBucket);
});

test('a cache larger than the whole budget is not kept', () => {
  const cache = new FilePrefixCache(4, config, null);
  const budget = new PrefixCacheBudget(cache.bytes - 1);
  assert.equal(budget.touch('big', cache), false);
  assert.equal(budget.files, 0);
});

test('keepLength keeps the longest block-aligned common prefix and truncates both caches', () => {
  const cache = new FilePrefixCache(4, config, config);
  const ids = Array.from({ length: 13 }, (_, i) => i + 1);
  cache.target.length = 12; // as if 12 positions had been committed for `ids`
  cache.draft!.length = 8;  // the draft lags (native decoding ran last)
  cache.record(ids);
  assert.equal(cache.committedIds.length, 12);
  const edited = [...ids.slice(0, 9), 99, 100];
  assert.equal(cache.keepLength(edited), 8, 'first difference at 9 → keep two whole blocks');
  assert.equal(cache.target.length, 8);
  assert.equal(cache.draft!.length, 8);
});
