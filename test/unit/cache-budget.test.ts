// The prefix-cache budget: LRU by bytes that re-weighs a cache after it grew, and keepLength's block arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrefixCacheBudget } from '../../src/cache/budget';
import { FilePrefixCache, type CacheMaker } from '../../src/cache/prefix-cache';
import { HostKvCache } from '../../src/model/kv';
import { fixtureConfig, TINY } from '../fixtures/tiny-checkpoint';

const config = fixtureConfig({ ...TINY });
const model: CacheMaker = { config, createCache: async (capacity) => HostKvCache.forConfig(config, capacity) };
const host = (cache: FilePrefixCache, which: 'target' | 'draft' = 'target') => cache[which] as HostKvCache;

test('a cache that grew is re-weighed, and the least recently used files are evicted (and disposed) to stay in budget', async () => {
  const one = await FilePrefixCache.create(model, null);
  const perBucket = one.bytes; // 256 slots
  const budget = new PrefixCacheBudget(3 * perBucket);
  const disposed: string[] = [];
  const caches = await Promise.all(['a', 'b', 'c'].map(async (key) => {
    const cache = key === 'a' ? one : await FilePrefixCache.create(model, null);
    const dispose = cache.dispose.bind(cache);
    cache.dispose = () => { disposed.push(key); dispose(); };
    return cache;
  }));
  caches.forEach((cache, i) => assert.ok(budget.touch('abc'[i], cache)));
  assert.equal(budget.files, 3);
  host(caches[2]).reserve(512); // file c grows to two buckets
  budget.touch('c', caches[2]);
  assert.equal(budget.bytes, caches[2].bytes + perBucket, 'the oldest file (a) was evicted');
  assert.equal(budget.get('a'), undefined);
  assert.ok(budget.bytes <= 3 * perBucket);
  assert.deepEqual(disposed, ['a'], 'only the evicted cache is disposed; re-weighing c did not dispose it');
  budget.delete('b');
  assert.deepEqual(disposed, ['a'], 'a cache the owner deletes is the owner\'s to dispose');
});

test('a cache larger than the whole budget is not kept', async () => {
  const cache = await FilePrefixCache.create(model, null);
  const budget = new PrefixCacheBudget(cache.bytes - 1);
  assert.equal(budget.touch('big', cache), false);
  assert.equal(budget.files, 0);
});

test('keepLength keeps the longest block-aligned common prefix and truncates both caches', async () => {
  const cache = await FilePrefixCache.create(model, model);
  const ids = Array.from({ length: 13 }, (_, i) => i + 1);
  host(cache).length = 12;          // as if 12 positions had been committed for `ids`
  host(cache, 'draft').length = 8;  // the draft lags (native decoding ran last)
  cache.record(ids);
  assert.equal(cache.committedIds.length, 12);
  const edited = [...ids.slice(0, 9), 99, 100];
  assert.equal(cache.keepLength(edited), 8, 'first difference at 9 → keep two whole blocks');
  assert.equal(cache.target.length, 8);
  assert.equal(cache.draft!.length, 8);
});
