// Checkpoint → converted model folder: model.onnx (+ model.sampling.onnx, model.debug.onnx), all sharing
// model.data (external weights, 4 KiB aligned), model.json (the conversion record), and the tokenizer/config files.
// Everything is written into a temporary sibling folder and renamed into place only when complete, so an
// interrupted or failed conversion never leaves a folder that looks usable. output-dir.ts decides what the
// output path may hold before it is replaced: nothing the project did not write.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openCheckpoint } from './checkpoint';
import { CheckpointError } from './errors';
import { buildGraph, type LinearWeight, type WeightEmitter } from './graph';
import { DT, type DataType, type GraphBuilder } from './onnx-builder';
import { QUANT_GROUP } from './quantize';
import { commitOutput, CONVERTED_MARKER, discardPartial, prepareOutput, type OutputLayout } from './output-dir';
import { loadTokenizer } from './tokenizer';
import { quantizeLinear, storageOf, toF16Bits, type WeightFormat } from './weights';
import type { GraphVariant, SdarConfig, WeightSource } from './types';

export const CONVERSION_RECORD = 'model.json';
export const DATA_FILE = 'model.data';
export const VARIANT_FILES: Record<GraphVariant, string> = { greedy: 'model.onnx', sampling: 'model.sampling.onnx', debug: 'model.debug.onnx' };
const ALIGN = 4096;
const INLINE_MAX_BYTES = 1024;
const COPIED_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja'];
/** Every file a conversion writes: what a folder may hold for a later conversion to replace it. */
const OUTPUT_LAYOUT: OutputLayout = {
  fileNames: new Set([CONVERSION_RECORD, DATA_FILE, CONVERTED_MARKER, ...Object.values(VARIANT_FILES), ...COPIED_FILES]),
  record: CONVERSION_RECORD,
  format: 'simsd-onnx',
};

export interface ConvertOptions {
  readonly weights: WeightFormat;
  readonly accuracyLevel?: number;              // MatMulNBits; default 4 (CPU speed), 0 for exact parity
  readonly variants?: readonly GraphVariant[];  // default all three
  readonly extraBannedIds?: readonly number[];  // besides the MASK id
  readonly copyFrom?: string;                   // checkpoint folder whose tokenizer/config files are copied
}

/** model.json: what a session needs to open a converted model. */
export interface ConversionRecord {
  readonly format: 'simsd-onnx';
  readonly version: 1;
  readonly weights: WeightFormat;
  readonly accuracyLevel: number;
  readonly variants: readonly GraphVariant[];
  readonly bannedIds: readonly number[];
  readonly config: SdarConfig;
  readonly source: string | null;
  readonly dataBytes: number;
  readonly convertMs: number;
}

/**
 * `simsd convert`: validates the checkpoint in `dir` (config, tokenizer, every tensor's header and shape)
 * before writing anything, then converts it into `outDir`.
 */
export async function convertCheckpoint(dir: string, outDir: string, opts: Omit<ConvertOptions, 'copyFrom'>): Promise<ConversionRecord> {
  const tokenizer = loadTokenizer(dir);
  const checkpoint = openCheckpoint(dir, { tokenizer });
  try {
    return await convertModel(checkpoint, outDir, { ...opts, copyFrom: dir });
  } finally {
    checkpoint.close();
  }
}

export async function convertModel(source: WeightSource, outDir: string, opts: ConvertOptions): Promise<ConversionRecord> {
  const started = Date.now();
  const target = path.resolve(outDir);
  const tmp = prepareOutput(target, opts.copyFrom, OUTPUT_LAYOUT, started);
  try {
    const record = writeModel(source, tmp, opts, started);
    for (const name of COPIED_FILES) {
      const from = opts.copyFrom && path.join(opts.copyFrom, name);
      if (from && fs.existsSync(from)) fs.copyFileSync(from, path.join(tmp, name));
    }
    fs.writeFileSync(path.join(tmp, CONVERSION_RECORD), JSON.stringify(record, null, 2) + '\n');
    commitOutput(tmp, target, opts.copyFrom, OUTPUT_LAYOUT);
    return record;
  } catch (err) {
    if (fs.existsSync(tmp)) discardPartial(tmp, OUTPUT_LAYOUT);
    throw err;
  }
}

function writeModel(source: WeightSource, dir: string, opts: ConvertOptions, started: number): ConversionRecord {
  const config = source.config;
  const accuracyLevel = opts.accuracyLevel ?? 4;
  const variants = opts.variants ?? (['greedy', 'sampling', 'debug'] as const);
  const bannedIds = [...new Set([config.maskTokenId, ...(opts.extraBannedIds ?? [])])];
  const data = new DataFile(path.join(dir, DATA_FILE));
  try {
    const emitter = new DataFileEmitter(source, opts.weights, data);
    for (const variant of variants) {
      const bytes = buildGraph(config, emitter, { variant, accuracyLevel, bannedIds });
      fs.writeFileSync(path.join(dir, VARIANT_FILES[variant]), bytes);
    }
  } finally {
    data.close();
  }
  return {
    format: 'simsd-onnx', version: 1, weights: opts.weights, accuracyLevel, variants, bannedIds, config,
    source: opts.copyFrom ?? null, dataBytes: data.bytes, convertMs: Date.now() - started,
  };
}

/** Appends tensors to model.data at 4 KiB-aligned offsets (so onnxruntime can mmap them). */
class DataFile {
  private readonly fd: number;
  bytes = 0;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w');
  }

  append(bytes: Uint8Array): { offset: number; length: number } {
    const offset = Math.ceil(this.bytes / ALIGN) * ALIGN;
    fs.writeSync(this.fd, bytes, 0, bytes.length, offset);
    this.bytes = offset + bytes.length;
    return { offset, length: bytes.length };
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** An initializer already emitted: inline bytes, or a place in model.data. */
type Written = { readonly type: DataType; readonly dims: number[] }
  & ({ readonly bytes: Uint8Array } | { readonly offset: number; readonly length: number });

/**
 * Emits initializers for the graph builder, reading one checkpoint tensor at a time. Emitted names are
 * memoised so every graph variant shares the bytes written once.
 */
class DataFileEmitter implements WeightEmitter {
  private readonly linears = new Map<string, LinearWeight>();
  private readonly written = new Map<string, Written>();

  constructor(private readonly source: WeightSource, private readonly format: WeightFormat, private readonly data: DataFile) {}

  linear(b: GraphBuilder, name: string): LinearWeight {
    const known = this.linears.get(name);
    if (known) {
      this.replay(b, known.kind === 'dense' ? [known.name] : [known.weight, known.scales, known.zeroPoints]);
      return known;
    }
    const t = this.source.read(name);
    if (t.shape.length !== 2) throw new CheckpointError(name, 'wrong-shape', `expected a matrix, got [${t.shape}]`);
    const [n, k] = t.shape;
    let result: LinearWeight;
    const storage = storageOf(name, this.format);
    if (storage === 'int4') {
      const p = quantizeLinear(t);
      const nGroups = Math.ceil(k / QUANT_GROUP);
      result = {
        kind: 'nbits', n, k, groupSize: QUANT_GROUP,
        weight: this.put(b, `${name}.q4`, DT.UINT8, [n, nGroups, QUANT_GROUP / 2], p.weight),
        scales: this.put(b, `${name}.scales`, DT.FLOAT, [n * nGroups], bytesOf(p.scales)),
        zeroPoints: this.put(b, `${name}.zp`, DT.UINT8, [n * Math.ceil(nGroups / 2)], p.zeroPoints),
      };
    } else {
      const transposed = transpose(t.data, n, k); // MatMul wants [in, out]
      const dense = storage === 'fp16'
        ? this.castF16(b, this.put(b, `${name}.f16`, DT.FLOAT16, [k, n], bytesOf(toF16Bits(name, { shape: [k, n], data: transposed }))))
        : this.put(b, `${name}.t`, DT.FLOAT, [k, n], bytesOf(transposed));
      result = { kind: 'dense', name: dense };
    }
    this.linears.set(name, result);
    return result;
  }

  dense(b: GraphBuilder, name: string): string {
    if (this.written.has(name)) return this.replay(b, [name])[0];
    const t = this.source.read(name);
    return this.put(b, name, DT.FLOAT, [...t.shape], bytesOf(t.data));
  }

  embedding(b: GraphBuilder, name: string): { name: string; isF16: boolean } {
    const isF16 = storageOf(name, this.format) === 'fp16';
    if (this.written.has(name)) return { name: this.replay(b, [name])[0], isF16 };
    const t = this.source.read(name);
    const bytes = isF16 ? bytesOf(toF16Bits(name, t)) : bytesOf(t.data);
    return { name: this.put(b, name, isF16 ? DT.FLOAT16 : DT.FLOAT, [...t.shape], bytes), isF16 };
  }

  computed(b: GraphBuilder, name: string, dims: readonly number[], data: Float32Array): string {
    if (this.written.has(name)) return this.replay(b, [name])[0];
    return this.put(b, name, DT.FLOAT, [...dims], bytesOf(data));
  }

  /** A Cast node from an fp16 initializer; the node lives in each graph, the bytes once in model.data. */
  private castF16(b: GraphBuilder, f16Name: string): string {
    return b.op('Cast', [f16Name], { to: DT.FLOAT }, { outputs: [`${f16Name}.f32`] })[0];
  }

  private put(b: GraphBuilder, name: string, type: DataType, dims: number[], bytes: Uint8Array): string {
    if (bytes.length < INLINE_MAX_BYTES) {
      this.written.set(name, { type, dims, bytes });
    } else {
      this.written.set(name, { type, dims, ...this.data.append(bytes) });
    }
    return this.replay(b, [name])[0];
  }

  /** Declares already-written initializers in the graph under construction. */
  private replay(b: GraphBuilder, names: readonly string[]): string[] {
    return names.map((name) => {
      if (name.endsWith('.f32')) { // a Cast output: re-declare its source and the Cast itself
        const src = name.slice(0, -4);
        return this.castF16(b, this.replay(b, [src])[0]);
      }
      const w = this.written.get(name);
      if (!w) throw new Error(`internal: ${name} was never written`);
      if ('bytes' in w) return b.inline(name, w.type, w.dims, w.bytes);
      return b.external(name, w.type, w.dims, { location: DATA_FILE, offset: w.offset, length: w.length });
    });
  }
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

function bytesOf(a: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
