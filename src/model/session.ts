// ModelSession: one converted SDAR model on onnxruntime-node. forward() feeds the KV cache (JS-owned buffers zero-copy
// on the CPU; tensors that never leave the device on WebGPU), builds the [L, C+L] mask from the window mask and the
// committed length, and returns ids, probabilities and the window's new K/V (host arrays, or device tensors that the
// cache commits on the device). It must run off the extension host's main thread (architecture.md §7).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { checkConfigLimits, isRecord } from './config';
import { CancelledError, CheckpointError, RequestError } from './errors';
import { CONVERSION_RECORD, VARIANT_FILES, type ConversionRecord } from './convert';
import { DeviceKvCache, DeviceKvOps, DeviceKvRows, hostBytes, type TransferCount } from './device-kv';
import { GRAPH_INPUTS, graphOutputs, newKey, newValue, pastKey, pastValue } from './graph';
import { HostKvCache } from './kv';
import type {
  ForwardInput, ForwardModel, ForwardOptions, ForwardOutput, GraphVariant, KvCache, KvLocation, KvRows, Precision, SdarConfig,
} from './types';
import { PRECISIONS } from './types';
import { MAX_BYTES, readJsonFile } from './user-file';
import { WEIGHT_FORMATS, type WeightFormat } from './weights';

export type ExecutionProvider = 'cpu' | 'webgpu';

export interface SessionOptions {
  readonly variant?: GraphVariant;
  readonly executionProvider?: ExecutionProvider;
  /** Default: `device` on WebGPU, `host` on the CPU (where the two are the same memory). */
  readonly kv?: KvLocation;
  readonly threads?: number;            // intra-op threads; default: cores − 1 (at least 1)
  readonly log?: (line: string) => void;
}

export class ModelSession implements ForwardModel {
  /** Bytes that crossed host ↔ device in this session's forwards and cache operations (0 on the CPU). */
  readonly transfer: TransferCount = { uploaded: 0, downloaded: 0 };
  /** The last forward's new K/V on the device: released by the next forward (commit before it). */
  private lastDeviceKv: DeviceKvRows | null = null;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly record: ConversionRecord,
    readonly variant: GraphVariant,
    readonly executionProvider: ExecutionProvider,
    readonly dir: string,
    private readonly kvOps: DeviceKvOps | null,
  ) {}

  get config(): SdarConfig {
    return this.record.config;
  }

  /** The graph's float type for activations and K/V (fp16 graphs are for WebGPU). */
  get precision(): Precision {
    return this.record.precision ?? 'fp32';
  }

  get kv(): KvLocation {
    return this.kvOps ? 'device' : 'host';
  }

  static async open(dir: string, opts: SessionOptions = {}): Promise<ModelSession> {
    const record = readConversionRecord(dir);
    const variant = opts.variant ?? 'greedy';
    if (!record.variants.includes(variant)) {
      throw new CheckpointError(path.join(dir, CONVERSION_RECORD), 'bad-model', `has no '${variant}' graph (has ${record.variants.join(', ')}); convert again`);
    }
    const ep = opts.executionProvider ?? 'cpu';
    const kv = opts.kv ?? (ep === 'webgpu' ? 'device' : 'host');
    const precision = record.precision ?? 'fp32';
    if (kv === 'device' && ep !== 'webgpu') throw new RequestError('a KV cache on the device needs the WebGPU execution provider');
    if (kv === 'host' && precision !== 'fp32') {
      throw new RequestError(`${dir} is an ${precision} graph: its KV cache lives on the device (WebGPU); convert with --precision fp32 for the CPU`);
    }
    const threads = opts.threads ?? Math.max(1, (await import('node:os')).availableParallelism() - 1);
    const file = path.join(dir, VARIANT_FILES[variant]);
    // Outputs are named once, all of them: with gpu-buffer outputs a partial fetch breaks (models.md §7.4).
    const outputs = graphOutputs(record.config, variant);
    const session = await ort.InferenceSession.create(file, {
      executionProviders: [ep],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      // Do not burn CPU between keystrokes (models.md §7.1).
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      ...(kv === 'device' ? {
        preferredOutputLocation: Object.fromEntries(outputs.map((name) => [name, /^new_(key|value)_\d+$/.test(name) ? 'gpu-buffer' : 'cpu'])),
      } : {}),
    });
    const pastInputs = session.inputNames.filter((n) => /^past_key_\d+$/.test(n)).length;
    if (pastInputs !== record.config.numLayers) {
      await session.release();
      throw new CheckpointError(path.join(dir, CONVERSION_RECORD), 'bad-model', `says ${record.config.numLayers} layers but ${VARIANT_FILES[variant]} has ${pastInputs}; convert the checkpoint again`);
    }
    let kvOps: DeviceKvOps | null = null;
    try {
      kvOps = kv === 'device' ? await DeviceKvOps.create(record.config, precision === 'fp16' ? 'float16' : 'float32') : null;
    } catch (err) {
      await session.release(); // its weights sit in GPU memory, which the garbage collector does not free
      throw err;
    }
    opts.log?.(`opened ${dir} (${record.weights} weights, ${precision}, ${variant}) on ${ep} with ${threads} thread(s), KV cache on the ${kv === 'device' ? 'device' : 'host'}`);
    return new ModelSession(session, record, variant, ep, dir, kvOps);
  }

  async createCache(capacity?: number): Promise<KvCache> {
    return this.kvOps ? this.kvOps.createCache(capacity) : HostKvCache.forConfig(this.config, capacity);
  }

  /** A device cache copied to the host as fp32 (tests and diagnostics; never during a decode). */
  async readCache(cache: KvCache): Promise<readonly KvRows[]> {
    if (cache instanceof HostKvCache) return cache.layers;
    if (!(cache instanceof DeviceKvCache) || !this.kvOps) throw new Error('internal: not a cache of this session');
    return this.kvOps.read(cache);
  }

  async forward(input: ForwardInput, cache: KvCache, options: ForwardOptions = {}): Promise<ForwardOutput> {
    if (options.signal?.cancelled) throw new CancelledError();
    const { numKvHeads: hkv, headDim: d, numLayers } = this.config;
    const L = input.ids.length;
    const cap = cache.capacity;
    const feeds: Record<string, ort.Tensor> = {
      [GRAPH_INPUTS.ids]: new ort.Tensor('int64', toInt64(input.ids), [1, L]),
      [GRAPH_INPUTS.positions]: new ort.Tensor('int64', toInt64(input.positions), [1, L]),
      [GRAPH_INPUTS.mask]: new ort.Tensor('bool', attentionMask(input.windowMask, L, cache.length, cap), [L, cap + L]),
      [GRAPH_INPUTS.select]: new ort.Tensor('int64', toInt64(input.selectRows), [input.selectRows.length]),
    };
    if (cache instanceof DeviceKvCache) {
      if (!this.kvOps) throw new Error('internal: a device KV cache fed to a session that keeps its cache on the host');
      cache.tensors.forEach((t, i) => { feeds[i % 2 === 0 ? pastKey(i >> 1) : pastValue(i >> 1)] = t; });
    } else if (cache instanceof HostKvCache && !this.kvOps) {
      for (let i = 0; i < numLayers; i++) {
        // Zero-copy: the binding wraps the JS-owned buffers (models.md §7.1).
        feeds[pastKey(i)] = new ort.Tensor('float32', cache.layers[i].key, [1, hkv, cap, d]);
        feeds[pastValue(i)] = new ort.Tensor('float32', cache.layers[i].value, [1, hkv, cap, d]);
      }
    } else {
      throw new Error(`internal: a ${cache.location} KV cache fed to a session that keeps its cache on the ${this.kv}`);
    }
    if (this.variant === 'sampling') {
      feeds[GRAPH_INPUTS.temperature] = new ort.Tensor('float32', new Float32Array([options.temperature ?? 1]), [1]);
    }
    // The previous forward's device K/V were committed (or were scratch): free them before this run allocates more.
    this.lastDeviceKv?.release();
    this.lastDeviceKv = null;
    const out = await this.session.run(feeds);
    if (this.executionProvider === 'webgpu') {
      this.transfer.uploaded += hostBytes(Object.values(feeds));
      this.transfer.downloaded += hostBytes(Object.values(out));
    }
    let newKv: readonly KvRows[] | DeviceKvRows;
    if (this.kvOps) {
      newKv = this.lastDeviceKv = new DeviceKvRows(
        Array.from({ length: numLayers }, (_, i) => out[newKey(i)]),
        Array.from({ length: numLayers }, (_, i) => out[newValue(i)]),
      );
    } else {
      newKv = Array.from({ length: numLayers }, (_, i) => ({
        key: out[newKey(i)].data as Float32Array,
        value: out[newValue(i)].data as Float32Array,
      }));
    }
    const result: ForwardOutput = {
      windowLength: L,
      tokenIds: fromInt64(out.token_ids.data as BigInt64Array),
      tokenProbs: out.token_probs.data as Float32Array,
      newKv,
      logits: out.logits ? (out.logits.data as Float32Array) : undefined,
      topK: out.topk_ids ? {
        k: out.topk_ids.dims[1],
        ids: fromInt64(out.topk_ids.data as BigInt64Array),
        logits: out.topk_logits.data as Float32Array,
        logSumExp: out.lse.data as Float32Array,
      } : undefined,
    };
    return result;
  }

  /** Host ↔ device bytes so far, the forwards' and the device cache operations' together. */
  get transferredBytes(): number {
    const ops = this.kvOps?.transfer ?? { uploaded: 0, downloaded: 0 };
    return this.transfer.uploaded + this.transfer.downloaded + ops.uploaded + ops.downloaded;
  }

  async close(): Promise<void> {
    this.lastDeviceKv?.release();
    this.lastDeviceKv = null;
    await this.kvOps?.close();
    await this.session.release();
  }
}

/**
 * model.json of a converted folder, checked before anything is sized from it: a hand-edited or corrupted record
 * (numLayers 1e6) must fail here, naming the file, not when the KV cache is allocated.
 */
export function readConversionRecord(dir: string): ConversionRecord {
  const file = path.join(dir, CONVERSION_RECORD);
  if (!fs.existsSync(file)) throw new CheckpointError(file, 'missing-file', 'not found: this folder is not a converted model (run `simsd convert`)');
  const json = readJsonFile(file, MAX_BYTES.conversionRecord, 'bad-model');
  const bad = (what: string) => new CheckpointError(file, 'bad-model', `${what}; convert the checkpoint again`);
  if (!isRecord(json) || json.format !== 'simsd-onnx' || json.version !== 1) {
    throw bad(`unknown conversion record format ${isRecord(json) ? `${String(json.format)} v${String(json.version)}` : typeof json}`);
  }
  if (!WEIGHT_FORMATS.includes(json.weights as WeightFormat)) throw bad(`weights ${JSON.stringify(json.weights)} is not one of ${WEIGHT_FORMATS.join(', ')}`);
  if (json.precision !== undefined && !PRECISIONS.includes(json.precision as Precision)) throw bad(`precision ${JSON.stringify(json.precision)} is not one of ${PRECISIONS.join(', ')}`);
  const variants = json.variants;
  if (!Array.isArray(variants) || variants.length === 0 || variants.some((v) => !(v in VARIANT_FILES))) throw bad(`variants ${JSON.stringify(variants)} are not graph variants`);
  if (!isRecord(json.config)) throw bad('config is missing');
  const config = json.config as unknown as SdarConfig;
  checkConfigLimits(config, file);
  const isId = (id: unknown) => typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 && id < config.vocabSize;
  if (!isId(config.maskTokenId)) throw bad(`config.maskTokenId ${JSON.stringify(config.maskTokenId)} is not a token id`);
  if (!Array.isArray(config.stopIds) || !config.stopIds.every(isId)) throw bad('config.stopIds are not token ids');
  if (!Array.isArray(json.bannedIds) || !json.bannedIds.every(isId)) throw bad('bannedIds are not token ids');
  return json as unknown as ConversionRecord;
}

/**
 * [L, C+L] bool: every row sees the committed cache [0, c) and the window as `windowMask` says; the
 * unused capacity [c, C) is never visible. A row that sees nothing would softmax to garbage (models.md §6.5).
 */
export function attentionMask(windowMask: Uint8Array, L: number, committed: number, capacity: number): Uint8Array {
  const width = capacity + L;
  const mask = new Uint8Array(L * width); // [L, C+L]
  for (let r = 0; r < L; r++) {
    const row = r * width;
    mask.fill(1, row, row + committed);
    let visible = committed;
    for (let j = 0; j < L; j++) {
      const v = windowMask[r * L + j];
      mask[row + capacity + j] = v;
      visible += v;
    }
    if (visible === 0) throw new Error(`internal: window row ${r} sees no column`);
  }
  return mask;
}

function toInt64(a: Int32Array): BigInt64Array {
  const out = new BigInt64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = BigInt(a[i]);
  return out;
}

function fromInt64(a: BigInt64Array): Int32Array {
  const out = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
  return out;
}
