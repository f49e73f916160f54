// Safetensors: dtype conversions (exhaustive where 16-bit), write → read round trips, chunked and > 4 GB
// positional reads, and every refusal of a malformed file.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, ftruncateSync, openSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, readHeader, readTensor, writeSafetensors, type TensorToWrite,
} from '../../src/model/safetensors';
import { assertCheckpointError, editSafetensorsHeader, safetensorsHeaderBytes, tempDir, truncateFile } from '../fixtures/corrupt';
import { mulberry32 } from '../fixtures/prng';

const tmp = tempDir('safetensors');
after(() => tmp.remove());

const allPatterns = () => Uint16Array.from({ length: 65536 }, (_, i) => i);
const f32 = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
const toBf16 = (x: number) => f32ToBf16(new Float32Array([x]))[0];
const toF16 = (x: number) => f32ToF16(new Float32Array([x]))[0];

describe('bf16', () => {
  test('bf16 → fp32 → bf16 is the identity on all 65,536 bit patterns (NaN payloads included)', () => {
    const bits = allPatterns();
    const wide = bf16ToF32(bits);
    const back = f32ToBf16(wide);
    for (let i = 0; i < 65536; i++) if (back[i] !== i) assert.fail(`0x${i.toString(16)} came back as 0x${back[i].toString(16)}`);
    const wideBits = new Uint32Array(wide.buffer);
    for (let i = 0; i < 65536; i++) if (wideBits[i] !== i * 65536) assert.fail(`0x${i.toString(16)} widened to 0x${wideBits[i].toString(16)}`);
  });

  test('fp32 → bf16 rounds to nearest, ties to even; Inf and NaN survive', () => {
    const cases: [number, number, string][] = [
      [1, 0x3f80, 'exact'],
      [1 + 2 ** -8, 0x3f80, 'tie between 0x3f80 and 0x3f81 goes to even 0x3f80'],
      [1 + 3 * 2 ** -8, 0x3f82, 'tie between 0x3f81 and 0x3f82 goes to even 0x3f82'],
      [1 + 2 ** -8 + 2 ** -20, 0x3f81, 'just above the tie rounds up'],
      [1 + 2 ** -8 - 2 ** -20, 0x3f80, 'just below the tie rounds down'],
      [-1 - 3 * 2 ** -8, 0xbf82, 'negative tie to even'],
      [f32(0x7f7f0000), 0x7f7f, 'largest bf16 is exact'],
      [f32(0x7f7fffff), 0x7f80, 'largest fp32 rounds up to +Inf'],
      [Infinity, 0x7f80, '+Inf'],
      [-Infinity, 0xff80, '-Inf'],
      [-0, 0x8000, '-0 keeps its sign'],
      [f32(0x00008000), 0x0000, 'subnormal tie to even 0'],
      [f32(0x00018000), 0x0002, 'subnormal tie to even 2'],
      [f32(0x7fc00000), 0x7fc0, 'quiet NaN'],
    ];
    for (const [x, want, why] of cases) assert.equal(toBf16(x), want, `${why}: got 0x${toBf16(x).toString(16)}`);
    // A NaN whose payload lies only in the dropped bits must not turn into Inf.
    assert.ok(Number.isNaN(bf16ToF32(new Uint16Array([toBf16(f32(0x7f800001))]))[0]));
    assert.ok(Number.isNaN(bf16ToF32(new Uint16Array([toBf16(f32(0xff800001))]))[0]));
  });
});

describe('f16', () => {
  /** The slow twin: the value of an f16 bit pattern from its definition. */
  const f16Value = (h: number): number => {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
    return sign * (e === 0 ? m * 2 ** -24 : 2 ** (e - 15) * (1 + m / 1024));
  };

  test('f16 → fp32 matches the definition, and f16 → fp32 → f16 is the identity, on all 65,536 patterns', () => {
    const bits = allPatterns();
    const wide = f16ToF32(bits);
    const back = f32ToF16(wide);
    for (let i = 0; i < 65536; i++) {
      if (!Object.is(wide[i], f16Value(i))) assert.fail(`0x${i.toString(16)} widened to ${wide[i]}, want ${f16Value(i)}`);
      if (back[i] !== i) assert.fail(`0x${i.toString(16)} came back as 0x${back[i].toString(16)}`);
    }
  });

  test('fp32 → f16 rounds to nearest even, overflows at 65520 and flushes at 2^-25', () => {
    const cases: [number, number, string][] = [
      [65504, 0x7bff, 'largest f16'],
      [65519.99, 0x7bff, 'below the overflow tie'],
      [65520, 0x7c00, 'the tie above 65504 overflows to Inf'],
      [1 + 2 ** -11, 0x3c00, 'tie to even 1.0'],
      [1 + 3 * 2 ** -11, 0x3c02, 'tie to even 0x3c02'],
      [2 ** -14, 0x0400, 'smallest normal'],
      [2 ** -24, 0x0001, 'smallest subnormal'],
      [2 ** -25, 0x0000, 'half the smallest subnormal ties to 0'],
      [1.5 * 2 ** -25, 0x0001, 'above that tie'],
      [3 * 2 ** -25, 0x0002, 'subnormal tie to even 2'],
      [2 ** -14 - 2 ** -25, 0x0400, 'rounds up from subnormal to the smallest normal'],
      [-0, 0x8000, '-0'],
      [-Infinity, 0xfc00, '-Inf'],
    ];
    for (const [x, want, why] of cases) assert.equal(toF16(x), want, `${why}: got 0x${toF16(x).toString(16)}`);
    assert.ok(Number.isNaN(f16ToF32(new Uint16Array([toF16(f32(0x7f800001))]))[0]), 'NaN with a low payload stays NaN');
  });

  test('fp32 → f16 agrees with a nearest-value search on 200,000 random values', () => {
    // Positive finite f16 values, ascending with their bit patterns 0x0000..0x7bff.
    const table = f16ToF32(Uint16Array.from({ length: 0x7c00 }, (_, i) => i));
    const reference = (x: number): number => {
      const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
      const a = Math.abs(x);
      if (a >= 65520) return sign | 0x7c00;
      let lo = 0;
      let hi = 0x7bff;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (table[mid] <= a) lo = mid;
        else hi = mid;
      }
      const dLo = a - table[lo];
      const dHi = table[hi] - a;
      const h = a >= table[hi] ? hi : dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
      return sign | h;
    };
    const random = mulberry32(7);
    const bits = Uint32Array.from({ length: 200_000 }, () => {
      const exp = 95 + Math.floor(random() * 50); // 2^-32 .. 2^17: flush, subnormal, normal and overflow
      return ((random() < 0.5 ? 0x80000000 : 0) | (exp << 23) | Math.floor(random() * 0x800000)) >>> 0;
    });
    const values = new Float32Array(bits.buffer);
    const got = f32ToF16(values);
    for (let i = 0; i < values.length; i++) {
      if (got[i] !== reference(values[i])) assert.fail(`${values[i]}: got 0x${got[i].toString(16)}, want 0x${reference(values[i]).toString(16)}`);
    }
  });
});

describe('write and read', () => {
  const random = mulberry32(3);
  const values = (n: number) => Float32Array.from({ length: n }, () => (random() - 0.5) * 8);

  test('BF16, F16 and F32 tensors round trip (values rounded to their dtype), with 8-byte aligned data', () => {
    const a = values(6);
    const b = values(12);
    const c = values(5);
    const path = join(tmp.path, 'round-trip.safetensors');
    writeSafetensors(path, [
      { name: 'a', dtype: 'BF16', shape: [2, 3], data: a },
      { name: 'b', dtype: 'F16', shape: [3, 4], data: b },
      { name: 'c', dtype: 'F32', shape: [5], data: () => [c.subarray(0, 2), c.subarray(2)] },
      { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    ]);
    assert.equal((8 + safetensorsHeaderBytes(path)) % 8, 0);
    const header = readHeader(path);
    assert.deepEqual(header.tensors.map((t) => [t.name, t.dtype, t.shape]), [['a', 'BF16', [2, 3]], ['b', 'F16', [3, 4]], ['c', 'F32', [5]], ['empty', 'F32', [0, 4]]]);
    assert.deepEqual(header.metadata, { format: 'pt' });
    const fd = openSync(path, 'r');
    const read = (name: string) => readTensor(fd, header.tensors.find((t) => t.name === name) ?? assert.fail(name));
    assert.deepEqual(read('a'), bf16ToF32(f32ToBf16(a)));
    assert.deepEqual(read('b'), f16ToF32(f32ToF16(b)));
    assert.deepEqual(read('c'), c);
    assert.equal(read('empty').length, 0);
    closeSync(fd);
    assert.deepEqual(readdirSync(tmp.path).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
  });

  test('tensors larger than one 16 MiB read chunk are read whole', () => {
    const big = values(9_000_000); // 18 MB in bf16, 36 MB in fp32
    const path = join(tmp.path, 'big.safetensors');
    writeSafetensors(path, [{ name: 'x', dtype: 'BF16', shape: [9_000_000], data: big }, { name: 'y', dtype: 'F32', shape: [9_000_000], data: big }]);
    const header = readHeader(path);
    const fd = openSync(path, 'r');
    assert.deepEqual(readTensor(fd, header.tensors[0]), bf16ToF32(f32ToBf16(big)));
    assert.deepEqual(readTensor(fd, header.tensors[1]), big);
    closeSync(fd);
  });

  test('a tensor beyond 4 GB in a (sparse) file is read at its exact position', () => {
    const padBytes = 4.5 * 2 ** 30; // past both 2^31 and 2^32
    const header = JSON.stringify({ pad: { dtype: 'BF16', shape: [padBytes / 2], data_offsets: [0, padBytes] }, x: { dtype: 'F32', shape: [3], data_offsets: [padBytes, padBytes + 12] } });
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length));
    const path = join(tmp.path, 'sparse.safetensors');
    const fd = openSync(path, 'w+');
    writeSync(fd, Buffer.concat([prefix, Buffer.from(header)]));
    ftruncateSync(fd, 8 + header.length + padBytes + 12);
    writeSync(fd, new Uint8Array(new Float32Array([1.5, -2, 3.25]).buffer), 0, 12, 8 + header.length + padBytes);
    const entry = readHeader(path).tensors[1];
    assert.equal(entry.position, 8 + header.length + padBytes);
    assert.deepEqual([...readTensor(fd, entry)], [1.5, -2, 3.25]);
    closeSync(fd);
  });

  test('a wrong value count leaves neither the file nor its .tmp behind', () => {
    const path = join(tmp.path, 'short.safetensors');
    assert.throws(() => writeSafetensors(path, [{ name: 'x', dtype: 'F32', shape: [4], data: new Float32Array(3) }]), /got 3 values/);
    assert.ok(!existsSync(path) && !existsSync(`${path}.tmp`));
  });
});

describe('malformed files', () => {
  const tensors: TensorToWrite[] = [
    { name: 'first', dtype: 'BF16', shape: [4, 8], data: new Float32Array(32).fill(1) },
    { name: 'second', dtype: 'F32', shape: [16], data: new Float32Array(16).fill(2) },
  ];
  let n = 0;
  const fresh = () => {
    const path = join(tmp.path, `bad-${n++}.safetensors`);
    writeSafetensors(path, tensors);
    return path;
  };

  test('a missing file', () => {
    assertCheckpointError(() => readHeader(join(tmp.path, 'nope.safetensors')), 'missing-file', 'nope.safetensors');
  });

  test('a file cut inside the length prefix, inside the header, or inside the data is truncated', () => {
    for (const cut of [(_: string) => 5, (p: string) => 8 + safetensorsHeaderBytes(p) / 2, (p: string) => 8 + safetensorsHeaderBytes(p) + 70]) {
      const path = fresh();
      truncateFile(path, cut(path));
      assertCheckpointError(() => readHeader(path), 'truncated', path, 'truncated');
    }
  });

  test('a header that is not JSON', () => {
    const path = join(tmp.path, 'not-json.safetensors');
    const text = Buffer.from('{"first": {"dtype": ');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(text.length));
    writeFileSync(path, Buffer.concat([prefix, text]));
    assertCheckpointError(() => readHeader(path), 'bad-header', path, 'not JSON');
  });

  test('offsets past the end of the data', () => {
    const path = fresh();
    editSafetensorsHeader(path, (h) => {
      h.second.data_offsets = [1000, 1064];
    });
    assertCheckpointError(() => readHeader(path), 'offset-out-of-bounds', path, 'second', 'corrupt');
  });

  test('overlapping tensors', () => {
    const path = fresh();
    editSafetensorsHeader(path, (h) => {
      h.second.data_offsets = [32, 96];
    });
    assertCheckpointError(() => readHeader(path), 'overlapping-tensors', path, 'first', 'second');
  });

  test('a span that does not match shape × dtype size', () => {
    const path = fresh();
    editSafetensorsHeader(path, (h) => {
      h.first.shape = [4, 9];
    });
    assertCheckpointError(() => readHeader(path), 'size-mismatch', path, 'first', '[4,9]');
  });

  test('an unknown dtype', () => {
    const path = fresh();
    editSafetensorsHeader(path, (h) => {
      h.second.dtype = 'I64';
    });
    assertCheckpointError(() => readHeader(path), 'unknown-dtype', path, 'second', 'I64');
  });

  test('a negative or reversed data_offsets pair', () => {
    const path = fresh();
    editSafetensorsHeader(path, (h) => {
      h.second.data_offsets = [128, 64];
    });
    assertCheckpointError(() => readHeader(path), 'bad-header', path, 'second');
  });
});
