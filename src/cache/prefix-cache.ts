// FilePrefixCache: per open file, the committed token ids and one KV cache per model (completion.md §2.3), on the
// models' device (a WebGPU session keeps it in GPU memory).
// A new prompt keeps the longest block-aligned common prefix, exact for SDAR because attention is causal
// across blocks; only the rest is prefilled. The draft's cache may lag the target's (native decoding does
// not run the draft) but never leads it once a request ends.
import type { ForwardModel, KvCache } from '../model/types';

/** What a prefix cache needs of a model: its config and caches of its kind. */
export type CacheMaker = Pick<ForwardModel, 'config' | 'createCache'>;

export class FilePrefixCache {
  /** Token ids of the committed positions: ids.length ≥ every cache's length. */
  private ids: number[] = [];

  private constructor(private readonly blockLength: number, readonly target: KvCache, readonly draft: KvCache | null) {}

  static async create(target: CacheMaker, draft: CacheMaker | null): Promise<FilePrefixCache> {
    const targetCache = await target.createCache();
    try {
      return new FilePrefixCache(target.config.blockLength, targetCache, draft ? await draft.createCache() : null);
    } catch (err) {
      targetCache.dispose(); // device memory is not garbage-collected
      throw err;
    }
  }

  get committedIds(): readonly number[] {
    return this.ids;
  }

  get bytes(): number {
    return this.target.bytes + (this.draft?.bytes ?? 0);
  }

  /**
   * Truncates every cache to the longest block-aligned prefix shared with `promptIds` and returns that
   * length: the number of prompt tokens that need no prefill.
   */
  keepLength(promptIds: readonly number[]): number {
    const n = Math.min(this.ids.length, promptIds.length);
    let p = 0;
    while (p < n && this.ids[p] === promptIds[p]) p++;
    const keep = Math.floor(p / this.blockLength) * this.blockLength;
    this.ids.length = keep;
    for (const cache of this.caches()) cache.truncate(Math.min(cache.length, keep));
    return keep;
  }

  /**
   * Records what the caches now hold after a prefill or a generation: `sequence` is the prompt followed by
   * the generated tokens, and the target's committed length says how much of it is cached. A draft that ran
   * ahead (optimistic K > 1 blocks) is rolled back to the target.
   */
  record(sequence: readonly number[]): void {
    const length = this.target.length;
    if (sequence.length < length) throw new Error(`internal: ${length} committed positions but only ${sequence.length} known ids`);
    this.ids = sequence.slice(0, length);
    if (this.draft && this.draft.length > length) this.draft.truncate(length);
  }

  /** Frees the caches' memory (device memory is not garbage-collected); the cache must not be used afterwards. */
  dispose(): void {
    for (const cache of this.caches()) cache.dispose();
  }

  private caches(): KvCache[] {
    return this.draft ? [this.target, this.draft] : [this.target];
  }
}
