// MatMulNBits packing (onnxruntime.md §6): round-to-nearest, asymmetric, 4 bits, block 32.
// Layout of the torch Linear weight [N = out, K = in] kept as is (no transpose):
//   B            uint8 [N, nBlocks, blockSize / 2]   element k of a block in byte k/2, low nibble first
//   scales       fp32  [N · nBlocks]
//   zeroPoints   uint8 [N · ceil(nBlocks / 2)]        two 4-bit values per byte, low nibble first
// Dequantisation, exactly as the kernel does it: w = (q − zp) · scale in fp32.

export const QUANT_BLOCK = 32;
const LEVELS = 15; // 4-bit: q ∈ [0, 15]

export interface PackedNBits {
  readonly n: number;            // out features
  readonly k: number;            // in features
  readonly blockSize: number;
  readonly weight: Uint8Array;   // [N, nBlocks, blockSize/2]
  readonly scales: Float32Array; // [N · nBlocks]
  readonly zeroPoints: Uint8Array; // [N · ceil(nBlocks/2)]
}

export function blocksPerRow(k: number, blockSize = QUANT_BLOCK): number {
  return Math.ceil(k / blockSize);
}

/** Quantises a row-major [n, k] fp32 matrix. Padding past k in the last block is zero. */
export function quantize4(data: Float32Array, n: number, k: number, blockSize = QUANT_BLOCK): PackedNBits {
  const nBlocks = blocksPerRow(k, blockSize);
  const zpStride = Math.ceil(nBlocks / 2);
  const weight = new Uint8Array(n * nBlocks * (blockSize / 2));
  const scales = new Float32Array(n * nBlocks);
  const zeroPoints = new Uint8Array(n * zpStride);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < nBlocks; b++) {
      const start = row * k + b * blockSize;
      const end = row * k + Math.min((b + 1) * blockSize, k);
      // The range always includes 0 so that zero maps exactly to an integer level.
      let lo = 0;
      let hi = 0;
      for (let i = start; i < end; i++) { lo = Math.min(lo, data[i]); hi = Math.max(hi, data[i]); }
      const scale = Math.fround(hi > lo ? (hi - lo) / LEVELS : 1);
      const zp = clamp(Math.round(-lo / scale), 0, LEVELS);
      scales[row * nBlocks + b] = scale;
      zeroPoints[row * zpStride + (b >> 1)] |= zp << ((b & 1) * 4);
      const base = (row * nBlocks + b) * (blockSize / 2);
      for (let i = 0; i < blockSize; i++) {
        const w = start + i < end ? data[start + i] : 0;
        const q = clamp(Math.round(w / scale) + zp, 0, LEVELS);
        weight[base + (i >> 1)] |= q << ((i & 1) * 4);
      }
    }
  }
  return { n, k, blockSize, weight, scales, zeroPoints };
}

/** The exact fp32 weights the kernel computes with: the twin of quantize4 for reference runs. */
export function dequantize4(p: PackedNBits): Float32Array {
  const nBlocks = blocksPerRow(p.k, p.blockSize);
  const zpStride = Math.ceil(nBlocks / 2);
  const out = new Float32Array(p.n * p.k);
  for (let row = 0; row < p.n; row++) {
    for (let b = 0; b < nBlocks; b++) {
      const scale = p.scales[row * nBlocks + b];
      const zp = (p.zeroPoints[row * zpStride + (b >> 1)] >> ((b & 1) * 4)) & 0xf;
      const base = (row * nBlocks + b) * (p.blockSize / 2);
      for (let i = 0; i < p.blockSize && b * p.blockSize + i < p.k; i++) {
        const q = (p.weight[base + (i >> 1)] >> ((i & 1) * 4)) & 0xf;
        out[row * p.k + b * p.blockSize + i] = Math.fround((q - zp) * scale);
      }
    }
  }
  return out;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
