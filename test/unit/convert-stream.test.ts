// Conversion streams each tensor in pieces of whole rows (models.md §5.2): row reads equal slices of whole reads,
// any piece size writes the same bytes, a source that cannot stream converts to the same bytes, and onProgress
// reports each checkpoint tensor once. (The memory bound itself: convert-memory.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectedTensors, openCheckpoint } from '../../src/model/checkpoint';
import { convertModel, type ConvertProgress } from '../../src/model/convert';
import { numElements, readHeader, readTensor, readTensorRows, writeSafetensors } from '../../src/model/safetensors';
import type { WeightSource } from '../../src/model/types';
import type { WeightFormat } from '../../src/model/weights';
import { tempDir } from '../fixtures/corrupt';
import { makeCheckpoint, SMALL, TINY } from '../fixtures/tiny-checkpoint';

const GRAPH_FILES = ['model.data', 'model.onnx', 'model.sampling.onnx', 'model.debug.onnx'];

test('readTensorRows equals the same rows of readTensor for BF16, F16 and F32, into a reused buffer or not', () => {
  const work = tempDir('simsd-rows');
  try {
    const values = Float32Array.from({ length: 7 * 5 }, (_, i) => Math.fround(Math.sin(i) * 3 + i / 7));
    const file = join(work.path, 'm.safetensors');
    writeSafetensors(file, ['BF16', 'F16', 'F32'].map((dtype) => ({ name: dtype, dtype: dtype as 'BF16', shape: [7, 5], data: values }))
      .concat([{ name: 'vector', dtype: 'BF16', shape: [6], data: values.subarray(0, 6) }]));
    const fd = openSync(file, 'r');
    try {
      for (const entry of readHeader(file).tensors) {
        const whole = readTensor(fd, entry);
        const rows = entry.shape[0];
        const rowSize = numElements(entry.shape.slice(1));
        const scratch = new Float32Array(64).fill(NaN);
        for (let start = 0; start <= rows; start++) {
          for (let count = 0; start + count <= rows; count++) {
            const want = whole.subarray(start * rowSize, (start + count) * rowSize);
            assert.deepEqual(readTensorRows(fd, entry, start, count), want, `${entry.name} [${start}, +${count})`);
            const into = readTensorRows(fd, entry, start, count, scratch);
            assert.equal(into.buffer, scratch.buffer, 'read into the buffer given');
            assert.deepEqual(into, want, `${entry.name} [${start}, +${count}) into a buffer`);
          }
        }
        assert.throws(() => readTensorRows(fd, entry, rows - 1, 2), RangeError);
        assert.throws(() => readTensorRows(fd, entry, -1, 1), RangeError);
      }
    } finally {
      closeSync(fd);
    }
  } finally {
    work.remove();
  }
});

/** The checkpoint as a source that can only read whole tensors (the path of in-memory sources). */
function wholeOnly(source: WeightSource): WeightSource {
  return { config: source.config, names: () => source.names(), read: (name) => source.read(name) };
}

for (const weights of ['int4', 'fp16', 'fp32'] as const satisfies readonly WeightFormat[]) {
  test(`${weights}: any piece size, and a source that cannot stream, write the same bytes`, async () => {
    const work = tempDir('simsd-pieces');
    try {
      const dir = join(work.path, 'ckpt');
      makeCheckpoint(dir, { ...SMALL, sharded: 2 }); // hidden 96 ≠ heads · head dim 128: every matrix is non-square
      const checkpoint = openCheckpoint(dir);
      try {
        const convert = async (label: string, source: WeightSource, pieceValues?: number) => {
          const out = join(work.path, label);
          await convertModel(source, out, { weights, accuracyLevel: 0, pieceValues });
          return GRAPH_FILES.map((f) => readFileSync(join(out, f)));
        };
        const whole = await convert('whole', checkpoint);
        // 1 value: one row per piece; 200: 2 rows of 96, 1 row of 192, several rows of the embedding; 1000 and 5000:
        // pieces that do not divide the row counts.
        for (const pieceValues of [1, 200, 1000, 5000]) {
          assert.deepEqual(await convert(`pieces-${pieceValues}`, checkpoint, pieceValues), whole, `pieces of ${pieceValues} values`);
        }
        assert.deepEqual(await convert('whole-only', wholeOnly(checkpoint), 1000), whole, 'a source without rows()');
      } finally {
        checkpoint.close();
      }
    } finally {
      work.remove();
    }
  });
}

test('onProgress reports every checkpoint tensor once, in order, with model.data growing', async () => {
  const work = tempDir('simsd-progress');
  try {
    const dir = join(work.path, 'ckpt');
    const config = makeCheckpoint(dir, { ...TINY });
    const checkpoint = openCheckpoint(dir);
    try {
      const seen: ConvertProgress[] = [];
      const record = await convertModel(checkpoint, join(work.path, 'out'), { weights: 'int4', onProgress: (p) => seen.push(p) });
      const expected = expectedTensors(config).map((t) => t.name);
      assert.equal(seen.length, expected.length, 'once per tensor, though three graph variants use each');
      assert.deepEqual(new Set(seen.map((p) => p.tensor)), new Set(expected));
      seen.forEach((p, i) => {
        assert.equal(p.done, i + 1);
        assert.equal(p.total, 11 * config.numLayers + 3);
        if (i > 0) assert.ok(p.bytesWritten >= seen[i - 1].bytesWritten, 'bytesWritten never shrinks');
      });
      assert.equal(seen[0].tensor, 'model.embed_tokens.weight');
      assert.ok(seen.at(-1)!.bytesWritten > 0 && seen.at(-1)!.bytesWritten <= record.dataBytes);
    } finally {
      checkpoint.close();
    }
  } finally {
    work.remove();
  }
});
