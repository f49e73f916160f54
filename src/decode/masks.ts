// Window masks (models.md §6.5, decoding.md §2.3, §3, §4, §5). Every mask here is [L, L] over the window
// rows, row = query, column = key, 1 = may attend; each row also sees the committed cache, which the model adds.
// Pure: sizes and step maps in, Uint8Arrays out.

/** Every row sees every row: a denoise step over the canvas, a clean pass, a clean copy, a pending block. */
export function fullMask(n: number): Uint8Array {
  return new Uint8Array(n * n).fill(1); // [n, n]
}

/** Prefill chunk of whole blocks: row i sees column j iff block(j) ≤ block(i) (the chunk starts on a block edge). */
export function blockCausalMask(n: number, blockLength: number): Uint8Array {
  const mask = new Uint8Array(n * n); // [n, n]
  for (let i = 0; i < n; i++) {
    const end = Math.min(n, (Math.floor(i / blockLength) + 1) * blockLength);
    mask.fill(1, i * n, i * n + end);
  }
  return mask;
}

/**
 * The temporal mask of the release's verify window (decoding.md §2.3). Rows: n_known known rows, then m DATA rows,
 * then m MASK rows (DATA_j and MASK_j share a position). `stepMap[j]` is the draft step that revealed DATA_j.
 *   known_i: known rows only.
 *   DATA_i:  known; DATA_j iff t_j ≤ t_i; MASK_j iff t_j > t_i     (the canvas just after step t_i)
 *   MASK_i:  known; DATA_j iff t_j < t_i; MASK_j iff t_j ≥ t_i     (the canvas just before step t_i)
 */
export function simsdVerifyMask(numKnown: number, stepMap: ArrayLike<number>): Uint8Array {
  const m = stepMap.length;
  const n = numKnown + 2 * m;
  const mask = new Uint8Array(n * n); // [n_known + 2m, n_known + 2m]
  const data = (j: number) => numKnown + j;
  const hole = (j: number) => numKnown + m + j;
  for (let r = 0; r < n; r++) mask.fill(1, r * n, r * n + numKnown); // every row sees the known tokens
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const ti = stepMap[i];
      const tj = stepMap[j];
      mask[data(i) * n + data(j)] = tj <= ti ? 1 : 0;
      mask[data(i) * n + hole(j)] = tj > ti ? 1 : 0;
      mask[hole(i) * n + data(j)] = tj < ti ? 1 : 0;
      mask[hole(i) * n + hole(j)] = tj >= ti ? 1 : 0;
    }
  }
  return mask;
}

/** q state copies of bl rows each (decoding.md §3): each copy sees itself, bidirectionally, and no other copy. */
export function stateCopiesMask(numCopies: number, blockLength: number): Uint8Array {
  const n = numCopies * blockLength;
  const mask = new Uint8Array(n * n); // [q·bl, q·bl]
  for (let r = 0; r < n; r++) {
    const first = Math.floor(r / blockLength) * blockLength;
    mask.fill(1, r * n + first, r * n + first + blockLength);
  }
  return mask;
}

/** One part of a window for `composeMask`: its size, its own mask, and the earlier parts its rows see entirely. */
export interface MaskPart {
  readonly size: number;
  readonly self: Uint8Array;       // [size, size]
  readonly sees: readonly number[]; // indices of earlier parts
}

/**
 * Concatenates parts into one window mask: a row sees its own part through `self` and every row of the parts
 * listed in `sees` (a pending clean block, clean copies of earlier blocks), nothing else.
 */
export function composeMask(parts: readonly MaskPart[]): Uint8Array {
  const offsets: number[] = [];
  let n = 0;
  for (const p of parts) { offsets.push(n); n += p.size; }
  const mask = new Uint8Array(n * n); // [L, L]
  parts.forEach((p, k) => {
    for (const s of p.sees) {
      if (s >= k) throw new Error(`internal: part ${k} may only see earlier parts, not ${s}`);
      for (let r = 0; r < p.size; r++) mask.fill(1, (offsets[k] + r) * n + offsets[s], (offsets[k] + r) * n + offsets[s] + parts[s].size);
    }
    for (let r = 0; r < p.size; r++) {
      for (let c = 0; c < p.size; c++) mask[(offsets[k] + r) * n + offsets[k] + c] = p.self[r * p.size + c];
    }
  });
  return mask;
}
