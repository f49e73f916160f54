// DeviceKvCache: the KV cache kept on the WebGPU device for a whole decode (docs/models.md §7). A forward leaves its new
// K/V on the device (`gpu-buffer` outputs); a commit is one run of a weight-free graph that writes the chosen window
// rows into slots [length, length + n) of every layer at once (Slice + Gather + Concat), after growing the capacity with
// Pad when needed; truncation only moves `length`. Nothing is read back during a decode (onnxruntime-node cannot read
// a gpu-buffer tensor on the host, and nothing needs to): what crosses the bus per commit is the row indices.
import * as ort from 'onnxruntime-node';
import { CAPACITY_BUCKET, checkCapacity, roundUp, truncatedLength } from './kv';
import { DT, GraphBuilder, type DataType } from './onnx-builder';
import type { DeviceKv, ForwardOutput, KvCache, KvRows, SdarConfig } from './types';
import { f16ToF32 } from './safetensors';

/** Element type of K/V on the device: the graph's precision. */
export type KvDtype = 'float32' | 'float16';

const BYTES: Readonly<Record<KvDtype, number>> = { float32: 4, float16: 2 };

/** The new K/V of one forward, on the device until the next forward of the same session releases them. */
export class DeviceKvRows implements DeviceKv {
  readonly location = 'device';
  released = false;
  constructor(readonly keys: readonly ort.Tensor[], readonly values: readonly ort.Tensor[]) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const t of [...this.keys, ...this.values]) t.dispose();
  }
}

/** Bytes that crossed between host and device, counted from the host tensors actually fed and fetched. */
export interface TransferCount {
  uploaded: number;
  downloaded: number;
}

/**
 * The weight-free graphs of one model shape on WebGPU, compiled once per model session: commit, grow, and a read-back
 * used only by tests and diagnostics.
 */
export class DeviceKvOps {
  readonly transfer: TransferCount = { uploaded: 0, downloaded: 0 };

  private constructor(
    private readonly config: SdarConfig,
    readonly dtype: KvDtype,
    private readonly commitSession: ort.InferenceSession,
    private readonly growSession: ort.InferenceSession,
    private readonly readSession: ort.InferenceSession,
  ) {}

  static async create(config: SdarConfig, dtype: KvDtype): Promise<DeviceKvOps> {
    const n = config.numLayers;
    const type = dtype === 'float16' ? DT.FLOAT16 : DT.FLOAT;
    const onDevice = (names: string[]) => Object.fromEntries(names.map((name) => [name, 'gpu-buffer' as const]));
    const options = (outputs: string[] | null): ort.InferenceSession.SessionOptions => ({
      executionProviders: ['webgpu'],
      graphOptimizationLevel: 'all',
      ...(outputs ? { preferredOutputLocation: onDevice(outputs) } : {}),
    });
    const [commit, grow, read] = await Promise.all([
      ort.InferenceSession.create(commitGraph(config, type), options(kvNames('present', n))),
      ort.InferenceSession.create(growGraph(config, type), options(kvNames('grown', n))),
      ort.InferenceSession.create(readGraph(config, type), options(null)),
    ]);
    return new DeviceKvOps(config, dtype, commit, grow, read);
  }

  /** An empty cache of `capacity` slots (rounded up to the bucket), zero-filled on the device. */
  async createCache(capacity = CAPACITY_BUCKET): Promise<DeviceKvCache> {
    checkCapacity(this.config, capacity);
    const { numLayers: n, numKvHeads: h, headDim: d } = this.config;
    const slots = roundUp(Math.max(capacity, 1));
    // Grown from a one-slot zero tensor: zero-size tensors must never be fed (models.md §7.4).
    const zeros = this.dtype === 'float16' ? new Uint16Array(h * d) : new Float32Array(h * d);
    const one = Array.from({ length: 2 * n }, () => new ort.Tensor(this.dtype, zeros, [1, h, 1, d]));
    const tensors = await this.grow(one, 1, slots);
    return new DeviceKvCache(this, tensors, slots);
  }

  /** Pads every tensor from `from` to `to` slots; the inputs are not disposed. */
  async grow(tensors: readonly ort.Tensor[], from: number, to: number): Promise<ort.Tensor[]> {
    const n = this.config.numLayers;
    const feeds: Record<string, ort.Tensor> = { pads: int64([0, 0, 0, 0, 0, 0, to - from, 0]) };
    kvNames('kv', n).forEach((name, i) => { feeds[name] = tensors[i]; });
    this.count(feeds, null);
    const out = await this.growSession.run(feeds);
    return kvNames('grown', n).map((name) => out[name]);
  }

  /** Writes `rows` of `fresh` at slots [start, start + rows.length); returns the new tensors (the old ones are not disposed). */
  async commit(tensors: readonly ort.Tensor[], fresh: DeviceKvRows, rows: readonly number[], start: number): Promise<ort.Tensor[]> {
    if (fresh.released) throw new Error('internal: a commit from a forward whose K/V were released (commit before the next forward)');
    const n = this.config.numLayers;
    const feeds: Record<string, ort.Tensor> = { rows: int64(rows), start: int64([start]) };
    kvNames('past', n).forEach((name, i) => { feeds[name] = tensors[i]; });
    kvNames('new', n).forEach((name, i) => { feeds[name] = i % 2 === 0 ? fresh.keys[i >> 1] : fresh.values[i >> 1]; });
    this.count(feeds, null);
    const out = await this.commitSession.run(feeds);
    return kvNames('present', n).map((name) => out[name]);
  }

  /** Copies a cache to the host as fp32 (tests and diagnostics only; never during a decode). */
  async read(cache: DeviceKvCache): Promise<KvRows[]> {
    const n = this.config.numLayers;
    const feeds: Record<string, ort.Tensor> = {};
    kvNames('kv', n).forEach((name, i) => { feeds[name] = cache.tensors[i]; });
    const out = await this.readSession.run(feeds);
    this.count({}, out);
    const f32 = (t: ort.Tensor) => (this.dtype === 'float16' ? f16ToF32(t.data as Uint16Array) : (t.data as Float32Array));
    return Array.from({ length: n }, (_, i) => ({ key: f32(out[`host_key_${i}`]), value: f32(out[`host_value_${i}`]) }));
  }

  bytesPerSlot(): number {
    const { numLayers: n, numKvHeads: h, headDim: d } = this.config;
    return 2 * n * h * d * BYTES[this.dtype];
  }

  async close(): Promise<void> {
    await Promise.all([this.commitSession.release(), this.growSession.release(), this.readSession.release()]);
  }

  /** Adds the host-located tensors of a run to the transfer count. */
  count(feeds: Readonly<Record<string, ort.Tensor>>, fetched: Readonly<Record<string, ort.Tensor>> | null): void {
    this.transfer.uploaded += hostBytes(Object.values(feeds));
    if (fetched) this.transfer.downloaded += hostBytes(Object.values(fetched));
  }
}

export class DeviceKvCache implements KvCache {
  readonly location = 'device';
  length = 0;
  private disposed = false;

  constructor(private readonly ops: DeviceKvOps, private current: ort.Tensor[], public capacity: number) {}

  /** Per layer K then V: [k0, v0, k1, v1, …], each [1, Hkv, capacity, D] on the device. */
  get tensors(): readonly ort.Tensor[] {
    if (this.disposed) throw new Error('internal: a disposed device KV cache was used');
    return this.current;
  }

  get bytes(): number {
    return this.capacity * this.ops.bytesPerSlot();
  }

  async commit(out: ForwardOutput, rows: readonly number[]): Promise<void> {
    const fresh = out.newKv;
    if (!(fresh instanceof DeviceKvRows)) throw new Error('internal: a device cache was given host K/V');
    if (rows.length === 0) return;
    const needed = this.length + rows.length;
    if (needed > this.capacity) {
      const capacity = roundUp(needed);
      this.replace(await this.ops.grow(this.tensors, this.capacity, capacity));
      this.capacity = capacity;
    }
    this.replace(await this.ops.commit(this.tensors, fresh, rows, this.length));
    this.length = needed;
  }

  truncate(length: number): void {
    this.length = truncatedLength(length, this.length);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.current) t.dispose();
    this.current = [];
  }

  private replace(next: ort.Tensor[]): void {
    for (const t of this.current) t.dispose();
    this.current = next;
  }
}

/** Bytes of the tensors that live on the host (fed from or fetched to JS memory). */
export function hostBytes(tensors: readonly ort.Tensor[]): number {
  let bytes = 0;
  for (const t of tensors) if (t.location === 'cpu' || t.location === 'cpu-pinned') bytes += (t.data as ArrayBufferView).byteLength;
  return bytes;
}

/** Input/output names of the weight-free graphs, per layer K then V: `${prefix}_key_i`, `${prefix}_value_i`. */
function kvNames(prefix: string, layers: number): string[] {
  return Array.from({ length: layers }, (_, i) => [`${prefix}_key_${i}`, `${prefix}_value_${i}`]).flat();
}

function int64(values: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [values.length]);
}

/** present = Concat(past[:, :, :start], new[:, :, rows], past[:, :, start + n:]) on the slot axis, for every K and V. */
function commitGraph(config: SdarConfig, type: DataType): Uint8Array {
  const b = new GraphBuilder();
  const { numKvHeads: h, headDim: d, numLayers: n } = config;
  const rows = b.input('rows', DT.INT64, ['N']);
  const start = b.input('start', DT.INT64, [1]);
  const end = b.op1('Add', [start, b.op1('Shape', [rows])]);
  const zero = b.constInt64('zero', [0]);
  const last = b.constInt64('last', [Number.MAX_SAFE_INTEGER]);
  const axis = b.constInt64('slot_axis', [2]);
  const past = kvNames('past', n);
  const fresh = kvNames('new', n);
  kvNames('present', n).forEach((name, i) => {
    b.input(past[i], type, [1, h, 'C', d]);
    b.input(fresh[i], type, [1, h, 'L', d]);
    const head = b.op1('Slice', [past[i], zero, start, axis]);
    const tail = b.op1('Slice', [past[i], end, last, axis]);
    const picked = b.op1('Gather', [fresh[i], rows], { axis: 2 });
    b.op('Concat', [head, picked, tail], { axis: 2 }, { outputs: [name] });
    b.output(name, type, [1, h, 'C', d]);
  });
  return b.encode('kv_commit', 'commit window rows into a device KV cache');
}

/** grown = Pad(kv, pads) with zeros (finite by construction) on the slot axis. */
function growGraph(config: SdarConfig, type: DataType): Uint8Array {
  const b = new GraphBuilder();
  const { numKvHeads: h, headDim: d, numLayers: n } = config;
  const pads = b.input('pads', DT.INT64, [8]);
  const inputs = kvNames('kv', n);
  kvNames('grown', n).forEach((name, i) => {
    b.input(inputs[i], type, [1, h, 'C', d]);
    b.op('Pad', [inputs[i], pads], { mode: 'constant' }, { outputs: [name] });
    b.output(name, type, [1, h, 'P', d]);
  });
  return b.encode('kv_grow', 'grow a device KV cache');
}

/** host = Identity(kv), fetched to the host (the session has no gpu-buffer outputs). */
function readGraph(config: SdarConfig, type: DataType): Uint8Array {
  const b = new GraphBuilder();
  const { numKvHeads: h, headDim: d, numLayers: n } = config;
  const inputs = kvNames('kv', n);
  kvNames('host', n).forEach((name, i) => {
    b.input(inputs[i], type, [1, h, 'C', d]);
    b.op('Identity', [inputs[i]], {}, { outputs: [name] });
    b.output(name, type, [1, h, 'C', d]);
  });
  return b.encode('kv_read', 'read a device KV cache back (tests)');
}
