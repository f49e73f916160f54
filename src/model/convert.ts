// Checkpoint → converted model folder: model.onnx (+ model.sampling.onnx, model.debug.onnx), all sharing
// model.data (external weights, 4 KiB aligned), model.json (the conversion record), and the tokenizer/config files.
// Everything is written into a temporary sibling folder and renamed into place only when complete, so an
// interrupted or failed conversion never leaves a folder that looks usable. output-dir.ts decides what the
// output path may hold before it is replaced: nothing the project did not write.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expectedTensors, openCheckpoint } from './checkpoint';
import { CheckpointError, RequestError } from './errors';
import { buildGraph, type LinearWeight, type WeightEmitter } from './graph';
import { DT, type DataType, type GraphBuilder } from './onnx-builder';
import { groupsPerRow, quantize4, QUANT_GROUP } from './quantize';
import { commitOutput, CONVERTED_MARKER, discardPartial, prepareOutput, type OutputLayout } from './output-dir';
import { loadTokenizer } from './tokenizer';
import { numElements } from './safetensors';
import { storageOf, toF16Bits, type WeightFormat } from './weights';
import type { GraphVariant, Precision, SdarConfig, TensorRows, WeightSource } from './types';

export const CONVERSION_RECORD = 'model.json';
export const DATA_FILE = 'model.data';
export const VARIANT_FILES: Record<GraphVariant, string> = { greedy: 'model.onnx', sampling: 'model.sampling.onnx', debug: 'model.debug.onnx' };
const ALIGN = 4096;
const INLINE_MAX_BYTES = 1024;
/** Values per streamed piece of a tensor (whole rows; 16 MiB as fp32): what bounds a conversion's memory. */
const PIECE_VALUES = 1 << 22;
const COPIED_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja'];
/** Every file a conversion writes: what a folder may hold for a later conversion to replace it. */
const OUTPUT_LAYOUT: OutputLayout = {
  fileNames: new Set([CONVERSION_RECORD, DATA_FILE, CONVERTED_MARKER, ...Object.values(VARIANT_FILES), ...COPIED_FILES]),
  record: CONVERSION_RECORD,
  format: 'simsd-onnx',
};

export interface ConvertOptions {
  readonly weights: WeightFormat;
  /** The graph's activations and K/V: fp32 (default; CPU) or fp16 (WebGPU; weights fp16 or int4 with fp16 scales). */
  readonly precision?: Precision;
  readonly accuracyLevel?: number;              // MatMulNBits; default 4 (CPU speed), 0 for exact parity
  readonly variants?: readonly GraphVariant[];  // default all three
  readonly extraBannedIds?: readonly number[];  // besides the MASK id
  readonly copyFrom?: string;                   // checkpoint folder whose tokenizer/config files are copied
  readonly onProgress?: (progress: ConvertProgress) => void; // called after each checkpoint tensor is written
  readonly pieceValues?: number;                // values per streamed piece; default PIECE_VALUES (tests use tiny pieces)
}

/** Where a conversion stands, after each checkpoint tensor. */
export interface ConvertProgress {
  readonly tensor: string;                      // the checkpoint tensor just written
  readonly done: number;                        // checkpoint tensors written so far, 1…total
  readonly total: number;                       // checkpoint tensors the model uses: 11 per layer + 3
  readonly bytesWritten: number;                // model.data so far
}

/** model.json: what a session needs to open a converted model. */
export interface ConversionRecord {
  readonly format: 'simsd-onnx';
  readonly version: 1;
  readonly weights: WeightFormat;
  /** Absent in records written before fp16 graphs existed: fp32. */
  readonly precision?: Precision;
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
  const precision = opts.precision ?? 'fp32';
  if (precision === 'fp16' && opts.weights === 'fp32') throw new RequestError('an fp16 graph takes fp16 or int4 weights, not fp32');
  const data = new DataFile(path.join(dir, DATA_FILE));
  try {
    const emitter = new DataFileEmitter(source, opts.weights, precision, data, opts.pieceValues ?? PIECE_VALUES, expectedTensors(config).length, opts.onProgress);
    for (const variant of variants) {
      const bytes = buildGraph(config, emitter, { variant, accuracyLevel, bannedIds, precision });
      fs.writeFileSync(path.join(dir, VARIANT_FILES[variant]), bytes);
    }
  } finally {
    data.close();
  }
  return {
    format: 'simsd-onnx', version: 1, weights: opts.weights, precision, accuracyLevel, variants, bannedIds, config,
    source: opts.copyFrom ?? null, dataBytes: data.bytes, convertMs: Date.now() - started,
  };
}

/** Places tensors in model.data at 4 KiB-aligned offsets (so onnxruntime can mmap them), each written in pieces. */
class DataFile {
  private readonly fd: number;
  bytes = 0;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w');
  }

  /** The place of the next tensor, after the previous one: the bytes are then written piece by piece with writeAt. */
  reserve(length: number): { offset: number; length: number } {
    const offset = Math.ceil(this.bytes / ALIGN) * ALIGN;
    this.bytes = offset + length;
    return { offset, length };
  }

  /** Positional write; loops because one write(2) may write less (and at most ~2 GB). */
  writeAt(position: number, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) done += fs.writeSync(this.fd, bytes, done, bytes.length - done, position + done);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** An initializer already emitted: inline bytes, or a place in model.data. */
type Written = { readonly type: DataType; readonly dims: number[] }
  & ({ readonly bytes: Uint8Array } | { readonly offset: number; readonly length: number });

/** Where one initializer's bytes go: written piece by piece at byte offsets within it. */
interface Region {
  readonly name: string;
  write(at: number, bytes: Uint8Array): void;
}

/**
 * Emits initializers for the graph builder. Every checkpoint tensor is streamed in pieces of whole rows (at most
 * pieceValues values, read into one reused buffer), converted and written before the next piece is read, so the
 * memory a conversion needs does not depend on the model's size. Emitted names are memoised so every graph variant
 * shares the bytes written once.
 */
class DataFileEmitter implements WeightEmitter {
  private readonly linears = new Map<string, LinearWeight>();
  private readonly written = new Map<string, Written>();
  private scratch = new Float32Array(0);
  private readonly buffers = new Map<string, Float32Array | Uint16Array>(); // per-piece outputs, reused like scratch
  private done = 0;

  constructor(private readonly source: WeightSource, private readonly format: WeightFormat, private readonly precision: Precision, private readonly data: DataFile,
    private readonly pieceValues: number, private readonly total: number, private readonly onProgress: ((p: ConvertProgress) => void) | undefined) {}

  linear(b: GraphBuilder, name: string): LinearWeight {
    const known = this.linears.get(name);
    if (known) {
      this.replay(b, known.kind === 'dense' ? [known.name] : [known.weight, known.scales, known.zeroPoints]);
      return known;
    }
    const t = this.rowsOf(name);
    if (t.shape.length !== 2) throw new CheckpointError(name, 'wrong-shape', `expected a matrix, got [${t.shape}]`);
    const [n, k] = t.shape;
    let result: LinearWeight;
    const storage = storageOf(name, this.format);
    if (storage === 'int4') {
      // Rows quantise independently (groups run along K), so a piece of rows is a contiguous slice of all three.
      const nGroups = groupsPerRow(k);
      const rowBytes = nGroups * (QUANT_GROUP / 2);
      const zpStride = Math.ceil(nGroups / 2);
      const weight = this.reserve(`${name}.q4`, DT.UINT8, [n, nGroups, QUANT_GROUP / 2], n * rowBytes);
      // MatMulNBits takes its scales in the activations' type.
      const half = this.precision === 'fp16';
      const scaleWidth = half ? 2 : 4;
      const scales = this.reserve(`${name}.scales`, half ? DT.FLOAT16 : DT.FLOAT, [n * nGroups], n * nGroups * scaleWidth);
      const zeroPoints = this.reserve(`${name}.zp`, DT.UINT8, [n * zpStride], n * zpStride);
      this.eachPiece(t, (rows, start, count) => {
        const p = quantize4(rows, count, k, QUANT_GROUP);
        weight.write(start * rowBytes, p.weight);
        scales.write(start * nGroups * scaleWidth, bytesOf(half ? toF16Bits(`${name} scales`, { data: p.scales }, start * nGroups) : p.scales));
        zeroPoints.write(start * zpStride, p.zeroPoints);
      });
      const [w, sc, zp] = this.replay(b, [weight.name, scales.name, zeroPoints.name]);
      result = { kind: 'nbits', n, k, groupSize: QUANT_GROUP, weight: w, scales: sc, zeroPoints: zp };
    } else {
      // MatMul wants [in, out]: a piece of `count` rows is a column strip of the transpose, k runs of `count` values.
      const f16 = storage === 'fp16';
      const width = f16 ? 2 : 4;
      const region = this.reserve(f16 ? `${name}.f16` : `${name}.t`, f16 ? DT.FLOAT16 : DT.FLOAT, [k, n], n * k * width);
      this.eachPiece(t, (rows, start, count) => {
        const strip = f16
          ? transpose(toF16Bits(name, { data: rows }, start * k, this.reuse('f16', Uint16Array, rows.length)), count, k, this.reuse('strip16', Uint16Array, rows.length))
          : transpose(rows, count, k, this.reuse('strip32', Float32Array, rows.length));
        if (count === n) return region.write(0, bytesOf(strip));
        for (let c = 0; c < k; c++) region.write((c * n + start) * width, bytesOf(strip.subarray(c * count, (c + 1) * count)));
      });
      const stored = this.replay(b, [region.name])[0];
      // An fp32 graph computes with fp16-stored weights through a Cast; an fp16 graph uses them as they are.
      result = { kind: 'dense', name: f16 && this.precision === 'fp32' ? this.castF16(b, stored) : stored };
    }
    this.linears.set(name, result);
    this.finished(name);
    return result;
  }

  dense(b: GraphBuilder, name: string): string {
    if (this.written.has(name)) return this.replay(b, [name])[0];
    const t = this.source.read(name); // norms: a few KiB
    const stored = this.put(b, name, DT.FLOAT, [...t.shape], bytesOf(t.data));
    this.finished(name);
    return stored;
  }

  embedding(b: GraphBuilder, name: string): { name: string; isF16: boolean } {
    const isF16 = storageOf(name, this.format) === 'fp16';
    if (this.written.has(name)) return { name: this.replay(b, [name])[0], isF16 };
    const t = this.rowsOf(name);
    const rowSize = numElements(t.shape.slice(1));
    const width = isF16 ? 2 : 4;
    const region = this.reserve(name, isF16 ? DT.FLOAT16 : DT.FLOAT, [...t.shape], numElements(t.shape) * width);
    this.eachPiece(t, (rows, start) => {
      const values = isF16 ? toF16Bits(name, { data: rows }, start * rowSize, this.reuse('f16', Uint16Array, rows.length)) : rows;
      region.write(start * rowSize * width, bytesOf(values));
    });
    this.finished(name);
    return { name: this.replay(b, [name])[0], isF16 };
  }

  computed(b: GraphBuilder, name: string, dims: readonly number[], data: () => Float32Array): string {
    if (this.written.has(name)) return this.replay(b, [name])[0];
    return this.put(b, name, DT.FLOAT, [...dims], bytesOf(data()));
  }

  /** A source tensor by rows: streamed from a checkpoint, or read whole from a source that cannot stream. */
  private rowsOf(name: string): TensorRows {
    if (this.source.rows) return this.source.rows(name);
    const t = this.source.read(name);
    const rowSize = numElements(t.shape.slice(1));
    return { shape: t.shape, read: (start, count) => t.data.subarray(start * rowSize, (start + count) * rowSize) };
  }

  /** Calls `use` on consecutive pieces of whole rows, each read into the same buffer. */
  private eachPiece(t: TensorRows, use: (rows: Float32Array, start: number, count: number) => void): void {
    const rows = t.shape.length === 0 ? 1 : t.shape[0];
    const rowSize = numElements(t.shape.slice(1));
    const perPiece = Math.max(1, Math.floor(this.pieceValues / Math.max(1, rowSize)));
    for (let start = 0; start < rows; start += perPiece) {
      const count = Math.min(perPiece, rows - start);
      if (this.scratch.length < count * rowSize) this.scratch = new Float32Array(count * rowSize);
      use(t.read(start, count, this.scratch), start, count);
    }
  }

  /** A buffer of `length` values for one use per piece, kept for the next piece (garbage would outgrow the piece). */
  private reuse<T extends Float32Array | Uint16Array>(use: string, type: new (length: number) => T, length: number): T {
    let buffer = this.buffers.get(use) as T | undefined;
    if (buffer === undefined || buffer.length < length) this.buffers.set(use, buffer = new type(length));
    return buffer.subarray(0, length) as T;
  }

  /** One checkpoint tensor is in model.data. */
  private finished(name: string): void {
    this.done++;
    this.onProgress?.({ tensor: name, done: this.done, total: this.total, bytesWritten: this.data.bytes });
  }

  /** A Cast node from an fp16 initializer; the node lives in each graph, the bytes once in model.data. */
  private castF16(b: GraphBuilder, f16Name: string): string {
    return b.op('Cast', [f16Name], { to: DT.FLOAT }, { outputs: [`${f16Name}.f32`] })[0];
  }

  /** Claims the place of an initializer: inline below 1 KiB, else the next aligned range of model.data. */
  private reserve(name: string, type: DataType, dims: number[], length: number): Region {
    if (length < INLINE_MAX_BYTES) {
      const bytes = new Uint8Array(length);
      this.written.set(name, { type, dims, bytes });
      return { name, write: (at, piece) => bytes.set(piece, at) };
    }
    const { offset } = this.data.reserve(length);
    this.written.set(name, { type, dims, offset, length });
    return { name, write: (at, piece) => this.data.writeAt(offset + at, piece) };
  }

  private put(b: GraphBuilder, name: string, type: DataType, dims: number[], bytes: Uint8Array): string {
    this.reserve(name, type, dims, bytes.length).write(0, bytes);
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

/** [rows, cols] → [cols, rows], into `out`. */
function transpose<T extends Float32Array | Uint16Array>(data: T, rows: number, cols: number, out: T): T {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

function bytesOf(a: Float32Array | Uint16Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
