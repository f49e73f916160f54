// Safetensors, one file: header parse and validation, positional tensor reads, the writer, and the
// bf16/f16 ⇄ fp32 conversions. The shard index lives in checkpoint.ts.
// File layout: u64 LE header length N | N bytes of JSON {name: {dtype, shape, data_offsets}} | data.
// Shards exceed 2 GB, so every read is positional (fs.readSync at a number position) and chunked;
// a file is never read whole.
import { closeSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { isRecord } from './config';
import { CheckpointError } from './errors';
import { openRegularFile } from './user-file';

export type Dtype = 'BF16' | 'F16' | 'F32';
export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = { BF16: 2, F16: 2, F32: 4 };

/** Rust safetensors refuses headers over 100 MB; a larger length means a corrupt file, not a big model. */
const MAX_HEADER_BYTES = 100_000_000;
/** Bytes per positional read: bounds the scratch buffer and stays far below the 2 GB read(2) limit. */
const CHUNK_BYTES = 1 << 24;

/** One tensor as its header describes it. `position` is absolute in the file: 8 + N + begin. */
export interface TensorEntry {
  readonly name: string;
  readonly file: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly position: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  readonly file: string;
  readonly fileBytes: number;
  readonly tensors: readonly TensorEntry[];          // in header order
  readonly metadata: Readonly<Record<string, string>>;
}

export function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Reads and validates a header. Throws CheckpointError naming the file and the problem. */
export function readHeader(file: string): SafetensorsHeader {
  const { fd, bytes: fileBytes } = openRegularFile(file, 'bad-header');
  try {
    if (fileBytes < 8) throw new CheckpointError(file, 'truncated', `only ${fileBytes} bytes: the file is truncated; download it again`);
    const prefix = new Uint8Array(8);
    readExactly(fd, prefix, 0, file);
    const headerBytes = Number(new DataView(prefix.buffer).getBigUint64(0, true));
    if (headerBytes > MAX_HEADER_BYTES) throw new CheckpointError(file, 'bad-header', `header length ${headerBytes} is implausible: not a safetensors file`);
    if (8 + headerBytes > fileBytes) {
      throw new CheckpointError(file, 'truncated', `the header needs ${8 + headerBytes} bytes but the file has ${fileBytes}: the file is truncated; download it again`);
    }
    const raw = new Uint8Array(headerBytes);
    readExactly(fd, raw, 8, file);
    return parseHeader(file, fileBytes, 8 + headerBytes, new TextDecoder().decode(raw));
  } finally {
    closeSync(fd);
  }
}

function parseHeader(file: string, fileBytes: number, dataStart: number, text: string): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, 'bad-header', `the header is not JSON (${(e as Error).message})`);
  }
  if (!isRecord(json)) throw new CheckpointError(file, 'bad-header', 'the header is not a JSON object');
  const bad = (name: string, what: string) => new CheckpointError(file, 'bad-header', `tensor ${name}: ${what}`);
  const spans: { entry: TensorEntry; begin: number; end: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = isRecord(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)])) : {};
      continue;
    }
    if (!isRecord(value)) throw bad(name, 'entry is not an object');
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== 'string') throw bad(name, 'dtype is not a string');
    if (!isDtype(dtype)) throw new CheckpointError(file, 'unknown-dtype', `tensor ${name} has dtype ${dtype}; only BF16, F16 and F32 are supported`);
    if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(name, `shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw bad(name, `data_offsets ${JSON.stringify(offsets)} are not [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = offsets as [number, number];
    const dims = shape as number[];
    const expected = numElements(dims) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw new CheckpointError(file, 'size-mismatch', `tensor ${name}: data_offsets span ${end - begin} bytes but ${dtype} ${JSON.stringify(dims)} needs ${expected}`);
    }
    spans.push({ entry: { name, file, dtype, shape: dims, position: dataStart + begin, byteLength: end - begin }, begin, end });
  }
  const dataBytes = fileBytes - dataStart;
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let tiled = true; // a writer lays tensors end to end from 0; only a cut file then points past the end
  for (let i = 0; i < sorted.length; i++) {
    const previousEnd = i === 0 ? 0 : sorted[i - 1].end;
    if (sorted[i].begin < previousEnd) {
      throw new CheckpointError(file, 'overlapping-tensors', `tensors ${sorted[i - 1].entry.name} and ${sorted[i].entry.name} overlap in the data`);
    }
    tiled &&= sorted[i].begin === previousEnd;
  }
  const outside = sorted.find((s) => s.end > dataBytes);
  if (outside !== undefined) {
    const where = `tensor ${outside.entry.name} ends at data byte ${outside.end} but the data holds ${dataBytes} bytes`;
    throw tiled
      ? new CheckpointError(file, 'truncated', `${where}: the file is truncated; download it again`)
      : new CheckpointError(file, 'offset-out-of-bounds', `${where}: the header is corrupt`);
  }
  return { file, fileBytes, tensors: spans.map((s) => s.entry), metadata };
}

/**
 * Reads one tensor as fp32 with chunked positional reads (bf16 and f16 widen exactly).
 * The caller owns `fd` (opened on entry.file).
 */
export function readTensor(fd: number, entry: TensorEntry): Float32Array {
  return readElements(fd, entry, 0, entry.byteLength / DTYPE_BYTES[entry.dtype], undefined);
}

/**
 * Reads rows [start, start + count) of the tensor's first dimension as fp32 (a 1-D tensor's rows are its values).
 * With `into` long enough, the values land there and a subarray of it is returned: a converter streaming a tensor
 * in pieces reuses one buffer. No other memory is used: bf16/f16 bytes are read into the upper half of the result
 * and widened in place.
 */
export function readTensorRows(fd: number, entry: TensorEntry, start: number, count: number, into?: Float32Array): Float32Array {
  const rows = entry.shape.length === 0 ? 1 : entry.shape[0];
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > rows) {
    throw new RangeError(`rows [${start}, ${start + count}) of ${entry.name} ${JSON.stringify(entry.shape)}`);
  }
  const rowSize = numElements(entry.shape.slice(1));
  return readElements(fd, entry, start * rowSize, count * rowSize, into);
}

function readElements(fd: number, entry: TensorEntry, first: number, count: number, into: Float32Array | undefined): Float32Array {
  const out = into !== undefined && into.length >= count ? into.subarray(0, count) : new Float32Array(count);
  const width = DTYPE_BYTES[entry.dtype];
  const position = entry.position + first * width;
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  // Little-endian on disk and on every supported host: F32 is read straight into the result. A 2-byte dtype is read
  // into the upper half and widened front to back: writing value i overwrites source values 2i − n and 2i − n + 1,
  // both ≤ i, so each is consumed before it is overwritten.
  const raw = width === 4 ? bytes : bytes.subarray(count * 2);
  for (let done = 0; done < raw.length; done += CHUNK_BYTES) {
    readExactly(fd, raw.subarray(done, Math.min(done + CHUNK_BYTES, raw.length)), position + done, entry.file);
  }
  if (width === 2) {
    const half = new Uint16Array(out.buffer, out.byteOffset + count * 2, count);
    (entry.dtype === 'BF16' ? bf16ToF32 : f16ToF32)(half, out as Float32Array<ArrayBuffer>);
  }
  return out;
}

/** readSync may return fewer bytes than asked (and at most ~2 GB per call): loop until full. */
function readExactly(fd: number, into: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new CheckpointError(file, 'truncated', `the file ended at byte ${position + done}: it is truncated; download it again`);
    done += n;
  }
}

/** A tensor to write. `data` is fp32 (rounded to `dtype` to nearest even), whole or as consecutive pieces. */
export interface TensorToWrite {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | (() => Iterable<Float32Array>);
}

/**
 * Writes a safetensors file to `path + '.tmp'`, then renames it, so a reader never sees half a file.
 * Piecewise `data` streams: only one piece is held at a time (the 1.7B fixture relies on it).
 */
export function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata: Readonly<Record<string, string>> = { format: 'pt' }): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = numElements(t.shape) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // align the data to 8 bytes, as HF writers do
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  let written = false;
  try {
    writeAll(fd, prefix);
    writeAll(fd, Buffer.from(json));
    for (const t of tensors) {
      let count = 0;
      for (const piece of t.data instanceof Float32Array ? [t.data] : t.data()) {
        writeAll(fd, encode(piece, t.dtype));
        count += piece.length;
      }
      if (count !== numElements(t.shape)) throw new Error(`writeSafetensors: ${t.name} got ${count} values for shape ${JSON.stringify(t.shape)}`);
    }
    written = true;
  } finally {
    closeSync(fd);
    if (!written) rmSync(tmp, { force: true });
  }
  renameSync(tmp, path);
}

function encode(values: Float32Array, dtype: Dtype): Uint8Array {
  const data = dtype === 'F32' ? values : dtype === 'BF16' ? f32ToBf16(values) : f32ToF16(values);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
}

function isDtype(s: string): s is Dtype {
  return s === 'BF16' || s === 'F16' || s === 'F32';
}

export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

// ---- bf16 / f16 ⇄ fp32, elementwise over bit patterns (dst may be given to avoid an allocation) ----

/** bf16 → fp32 is exact: the bf16 bits are the top half of the fp32 bits. */
export function bf16ToF32(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  const bits = new Int32Array(dst.buffer, dst.byteOffset, dst.length); // Int32: `<< 16` yields int32, stored as is
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return dst;
}

/** fp32 → bf16, round to nearest even. NaN stays NaN with its top payload bits (so bf16 → fp32 → bf16 is exact). */
export function f32ToBf16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    if ((x & 0x7fffffff) > 0x7f800000) {
      const top = x >>> 16;
      dst[i] = (top & 0x7f) === 0 ? top | 0x40 : top; // a payload only in the dropped bits would read as Inf
    } else {
      dst[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16; // no wrap: x ≤ 0xff800000 here
    }
  }
  return dst;
}

/** f16 → fp32, exact (subnormals normalised, Inf and NaN kept). */
export function f16ToF32(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  const bits = new Int32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0x1f) bits[i] = sign | 0x7f800000 | (mant << 13);
    else if (exp !== 0) bits[i] = sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 → 127
    else if (mant === 0) bits[i] = sign;
    else {
      let e = 113; // the subnormal unit 2^-24 = 2^-14 · 2^-10: shift the leading 1 up to bit 10
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      bits[i] = sign | (e << 23) | ((mant & 0x3ff) << 13);
    }
  }
  return dst;
}

/** fp32 → f16, round to nearest even: |x| ≥ 65520 → ±Inf, |x| ≤ 2^-25 → ±0. NaN stays NaN. */
export function f32ToF16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    const e = exp - 112; // f16 biased exponent
    if (exp === 0xff) dst[i] = sign | 0x7c00 | (mant === 0 ? 0 : mant >>> 13 || 0x200);
    else if (e >= 0x1f) dst[i] = sign | 0x7c00;
    else if (e > 0) {
      const rest = mant & 0x1fff; // the 13 dropped bits; a carry may reach the exponent, up to Inf, as it should
      const h = (e << 10) | (mant >>> 13);
      dst[i] = sign | (h + (rest > 0x1000 || (rest === 0x1000 && (h & 1)) ? 1 : 0));
    } else if (e < -10) dst[i] = sign;
    else {
      // Subnormal result in units of 2^-24: the 24-bit significand shifted right by 14 − e ∈ [14, 24].
      const m = mant | 0x800000;
      const shift = 14 - e;
      const q = m >>> shift;
      const rest = m - q * 2 ** shift;
      const half = 2 ** (shift - 1);
      dst[i] = sign | (q + (rest > half || (rest === half && (q & 1)) ? 1 : 0));
    }
  }
  return dst;
}
