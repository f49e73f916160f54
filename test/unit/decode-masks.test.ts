// Window masks (decoding.md §2.3, §3, §4, §5; models.md §6.5) checked cell by cell on hand-made inputs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { blockCausalMask, composeMask, fullMask, simsdVerifyMask, stateCopiesMask } from '../../src/decode/masks';

/** Rows of a [n, n] mask as strings of 0/1, for readable diffs. */
function rows(mask: Uint8Array, n: number): string[] {
  return Array.from({ length: n }, (_, r) => Array.from(mask.subarray(r * n, (r + 1) * n)).join(''));
}

describe('simsd verify mask (§2.3)', () => {
  test('matches the table cell by cell on a hand-made step map', () => {
    // One known token k0, three drafted slots revealed at steps t = [2, 0, 1].
    // Columns: k0 D0 D1 D2 M0 M1 M2.
    const expected = [
      '1000000', // k0: the known tokens only
      '1111000', // D0 (t=2): DATA with t ≤ 2 (all); MASK with t > 2 (none)
      '1010101', // D1 (t=0): DATA with t ≤ 0 (D1); MASK with t > 0 (M0, M2)
      '1011100', // D2 (t=1): DATA with t ≤ 1 (D1, D2); MASK with t > 1 (M0)
      '1011100', // M0 (t=2): DATA with t < 2 (D1, D2); MASK with t ≥ 2 (M0)
      '1000111', // M1 (t=0): DATA with t < 0 (none); MASK with t ≥ 0 (all)
      '1010101', // M2 (t=1): DATA with t < 1 (D1); MASK with t ≥ 1 (M0, M2)
    ];
    assert.deepEqual(rows(simsdVerifyMask(1, [2, 0, 1]), 7), expected);
  });

  test('every cell follows the rule for all step maps of a full block (no known tokens)', () => {
    const perms = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]];
    for (const t of perms) {
      const m = t.length;
      const n = 2 * m;
      const mask = simsdVerifyMask(0, t);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          assert.equal(mask[i * n + j], t[j] <= t[i] ? 1 : 0, `DATA_${i} → DATA_${j}`);
          assert.equal(mask[i * n + m + j], t[j] > t[i] ? 1 : 0, `DATA_${i} → MASK_${j}`);
          assert.equal(mask[(m + i) * n + j], t[j] < t[i] ? 1 : 0, `MASK_${i} → DATA_${j}`);
          assert.equal(mask[(m + i) * n + m + j], t[j] >= t[i] ? 1 : 0, `MASK_${i} → MASK_${j}`);
        }
      }
      // MASK_i sees the canvas just before step t_i, i.e. what the DATA row revealed at t_i − 1 sees.
      for (let i = 0; i < m; i++) {
        const before = t.indexOf(t[i] - 1);
        if (before >= 0) assert.deepEqual(mask.subarray((m + i) * n, (m + i + 1) * n), mask.subarray(before * n, (before + 1) * n));
      }
    }
  });

  test('known rows see all known tokens, and every row sees itself', () => {
    const mask = simsdVerifyMask(2, [1, 0]);
    const n = 6;
    for (let r = 0; r < n; r++) {
      assert.equal(mask[r * n + r], 1, `row ${r} sees itself`);
      assert.equal(mask[r * n], 1);
      assert.equal(mask[r * n + 1], 1);
    }
    assert.deepEqual(rows(mask, n).slice(0, 2), ['110000', '110000']);
  });
});

describe('other forwards', () => {
  test('prefill chunk is block-causal', () => {
    assert.deepEqual(rows(blockCausalMask(6, 2), 6), ['110000', '110000', '111100', '111100', '111111', '111111']);
  });

  test('state copies see only themselves', () => {
    assert.deepEqual(rows(stateCopiesMask(3, 2), 6), ['110000', '110000', '001100', '001100', '000011', '000011']);
  });

  test('denoise step and clean pass: the whole block', () => {
    assert.deepEqual(rows(fullMask(3), 3), ['111', '111', '111']);
  });
});

describe('composed windows', () => {
  test('fold (§5.1): B sees only itself; the canvas sees B and itself', () => {
    const mask = composeMask([
      { size: 2, self: fullMask(2), sees: [] },
      { size: 2, self: fullMask(2), sees: [0] },
    ]);
    assert.deepEqual(rows(mask, 4), ['1100', '1100', '1111', '1111']);
  });

  test('K = 2 with clean copies (§5.2): later blocks see B and earlier clean copies only', () => {
    // Parts: B (1 row), block 0 verification (2 state copies of bl=1 → 2 rows), C_0 (1 row), block 1 (1 copy).
    const mask = composeMask([
      { size: 1, self: fullMask(1), sees: [] },
      { size: 2, self: stateCopiesMask(2, 1), sees: [0] },
      { size: 1, self: fullMask(1), sees: [0] },
      { size: 1, self: stateCopiesMask(1, 1), sees: [0, 2] },
    ]);
    assert.deepEqual(rows(mask, 5), [
      '10000', // B
      '11000', // block 0, copy 0: B + itself
      '10100', // block 0, copy 1
      '10010', // C_0: B + itself, never the verification rows
      '10011', // block 1: B + C_0 + itself, never block 0's verification rows
    ]);
  });

  test('a part may only see earlier parts', () => {
    assert.throws(() => composeMask([{ size: 1, self: fullMask(1), sees: [0] }]), /earlier parts/);
  });
});
