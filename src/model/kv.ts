// HostKvCache: per-layer K/V buffers owned by JS and fed to onnxruntime zero-copy (the CPU's cache, and the reference's).
// Layout per layer and per K or V: [Hkv, capacity, D] (the graph sees [1, Hkv, capacity, D]).
// Capacity grows in buckets of 256; slots ≥ length hold finite stale values and are masked.
import { RequestError } from './errors';
import type { ForwardOutput, KvCache, KvRows, SdarConfig } from './types';

export const CAPACITY_BUCKET = 256;

export class HostKvCache implements KvCache {
  readonly location = 'host';
  length = 0;
  capacity: number;
  layers: KvRows[];

  constructor(
    private readonly numKvHeads: number,
    private readonly headDim: number,
    numLayers: number,
    capacity = CAPACITY_BUCKET,
  ) {
    this.capacity = roundUp(Math.max(capacity, 1));
    this.layers = Array.from({ length: numLayers }, () => this.allocate(this.capacity));
  }

  /** A cache for `config`; more slots than the model has positions are refused (they could never be used). */
  static forConfig(config: SdarConfig, capacity = CAPACITY_BUCKET): HostKvCache {
    checkCapacity(config, capacity);
    return new HostKvCache(config.numKvHeads, config.headDim, config.numLayers, capacity);
  }

  /** Bytes held by the buffers (K and V, all layers). */
  get bytes(): number {
    return this.layers.length * 2 * this.numKvHeads * this.capacity * this.headDim * 4;
  }

  /** Makes room for `length` slots, growing to the next bucket and copying once. */
  reserve(length: number): void {
    if (length <= this.capacity) return;
    const capacity = roundUp(length);
    const { numKvHeads: h, headDim: d } = this;
    this.layers = this.layers.map((old) => {
      const grown = this.allocate(capacity);
      for (let head = 0; head < h; head++) {
        const src = head * this.capacity * d;
        const dst = head * capacity * d;
        grown.key.set(old.key.subarray(src, src + this.length * d), dst);
        grown.value.set(old.value.subarray(src, src + this.length * d), dst);
      }
      return grown;
    });
    this.capacity = capacity;
  }

  async commit(out: ForwardOutput, rows: readonly number[]): Promise<void> {
    if (!Array.isArray(out.newKv)) throw new Error('internal: a host cache was given device K/V');
    this.commitRows(out.newKv, out.windowLength, rows);
  }

  /**
   * Commit: copies the chosen window rows of a forward's new K/V into slots [length, length + rows.length).
   * `windowLength` is the L of the forward that produced `newKv` (its rows are laid out [Hkv, L, D]).
   */
  commitRows(newKv: readonly KvRows[], windowLength: number, rows: readonly number[]): void {
    this.reserve(this.length + rows.length);
    const { numKvHeads: h, headDim: d, capacity: cap } = this;
    newKv.forEach((src, layer) => {
      const dst = this.layers[layer];
      for (let head = 0; head < h; head++) {
        rows.forEach((row, i) => {
          const from = (head * windowLength + row) * d;
          const to = (head * cap + this.length + i) * d;
          dst.key.set(src.key.subarray(from, from + d), to);
          dst.value.set(src.value.subarray(from, from + d), to);
        });
      }
    });
    this.length += rows.length;
  }

  /** Forgets everything from `length` on (prefix invalidation, draft rollback). */
  truncate(length: number): void {
    this.length = truncatedLength(length, this.length);
  }

  dispose(): void {
    // JS buffers: the garbage collector frees them.
  }

  private allocate(capacity: number): KvRows {
    const size = this.numKvHeads * capacity * this.headDim; // zero-filled: finite by construction
    return { key: new Float32Array(size), value: new Float32Array(size) };
  }
}

/** The length a truncate leaves, for either kind of cache: only shorter, never below 0. */
export function truncatedLength(length: number, current: number): number {
  if (length < 0 || length > current) throw new RangeError(`truncate(${length}) outside [0, ${current}]`);
  return length;
}

/** A cache of more slots than the model has positions is refused (they could never be used). */
export function checkCapacity(config: SdarConfig, capacity: number): void {
  if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > roundUp(config.maxPositions)) {
    throw new RequestError(`a KV cache of ${capacity} slots is outside [0, ${config.maxPositions}] (max_position_embeddings)`);
  }
}

export function roundUp(n: number): number {
  return Math.ceil(n / CAPACITY_BUCKET) * CAPACITY_BUCKET;
}
