// The prefix caches of all open files under one memory budget (`simsd.cache.maxMemoryMB`): an LRU by bytes (host or
// device memory). Sizes change as caches grow, so the owner calls touch() after each request to re-weigh and evict.
// An evicted cache is disposed here; one the owner deletes is the owner's to dispose (it may still be in use).
import { LRUCache } from 'lru-cache';
import type { FilePrefixCache } from './prefix-cache';

export class PrefixCacheBudget {
  private readonly lru: LRUCache<string, FilePrefixCache>;
  evictions = 0;

  constructor(readonly budgetBytes: number) {
    this.lru = new LRUCache<string, FilePrefixCache>({
      maxSize: Math.max(1, budgetBytes),
      sizeCalculation: (cache) => Math.max(1, cache.bytes),
      dispose: (cache, _key, reason) => {
        if (reason !== 'evict') return;
        this.evictions++;
        cache.dispose();
      },
    });
  }

  get(fileKey: string): FilePrefixCache | undefined {
    return this.lru.get(fileKey);
  }

  /** Stores or re-weighs `cache`; a cache larger than the whole budget is not kept (and not disposed: the caller's). */
  touch(fileKey: string, cache: FilePrefixCache): boolean {
    // lru-cache recomputes a size only when the value object changes: delete first so a grown cache is re-weighed.
    this.lru.delete(fileKey);
    this.lru.set(fileKey, cache);
    return this.lru.has(fileKey);
  }

  delete(fileKey: string): void {
    this.lru.delete(fileKey);
  }

  get files(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
