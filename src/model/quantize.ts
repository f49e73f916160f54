// MatMulNBits packing (docs/models.md §5): round-to-nearest, asymmetric, 4 bits, groups of 32 weights along K.
// (onnxruntime calls a group a "block"; in this project *block* means the diffusion block only.)
// Layout of the torch Linear weight [N = out, K = in] kept as is (no transpose):
//   B            uint8 [N, nGroups, groupSize / 2]   element k of a group in byte k/2, low nibble first
//   scales       fp32  [N · nGroups]
//   zeroPoints   uint8 [N · ceil(nGroups / 2)]        two 4-bit values per byte, low nibble first
// Dequantisation, exactly as the kernel does it: w = (q − zp) · scale in fp32.

export const QUANT_GROUP = 32;
const LEVELS = 15; // 4-bit: q ∈ [0, 15]

export interface PackedNBits {
  readonly n: number;            // out features
  readonly k: number;            // in features
  readonly groupSize: number;
  readonly weight: Uint8Array;   // [N, nGroups, groupSize/2]
  readonly scales: Float32Array; // [N · nGroups]
  readonly zeroPoints: Uint8Array; // [N · ceil(nGroups/2)]
}

export function groupsPerRow(k: number, groupSize = QUANT_GROUP): number {
  return Math.ceil(k / groupSize);
}

/** Quantises a row-major [n, k] fp32 matrix. Padding past k in the last group is zero. */
export function quantize4(data: Float32Array, n: number, k: number, groupSize = QUANT_GROUP): PackedNBits {
  const nGroups = groupsPerRow(k, groupSize);
  const zpStride = Math.ceil(nGroups / 2);
  const weight = new Uint8Array(n * nGroups * (groupSize / 2));
  const scales = new Float32Array(n * nGroups);
  const zeroPoints = new Uint8Array(n * zpStride);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < nGroups; b++) {
      const start = row * k + b * groupSize;
      const end = row * k + Math.min((b + 1) * groupSize, k);
      // The range always includes 0 so that zero maps exactly to an integer level.
      let lo = 0;
      let hi = 0;
      for (let i = start; i < end; i++) { lo = Math.min(lo, data[i]); hi = Math.max(hi, data[i]); }
      const scale = Math.fround(hi > lo ? (hi - lo) / LEVELS : 1);
      const zp = clamp(Math.round(-lo / scale), 0, LEVELS);
      scales[row * nGroups + b] = scale;
      zeroPoints[row * zpStride + (b >> 1)] |= zp << ((b & 1) * 4);
      const base = (row * nGroups + b) * (groupSize / 2);
      for (let i = 0; i < groupSize; i++) {
        const w = start + i < end ? data[start + i] : 0;
        const q = clamp(Math.round(w / scale) + zp, 0, LEVELS);
        weight[base + (i >> 1)] |= q << ((i & 1) * 4);
      }
    }
  }
  return { n, k, groupSize, weight, scales, zeroPoints };
}

/** The exact fp32 weights the kernel computes with: the twin of quantize4 for reference runs. */
export function dequantize4(p: PackedNBits): Float32Array {
  const nGroups = groupsPerRow(p.k, p.groupSize);
  const zpStride = Math.ceil(nGroups / 2);
  const out = new Float32Array(p.n * p.k);
  for (let row = 0; row < p.n; row++) {
    for (let b = 0; b < nGroups; b++) {
      const scale = p.scales[row * nGroups + b];
      const zp = (p.zeroPoints[row * zpStride + (b >> 1)] >> ((b & 1) * 4)) & 0xf;
      const base = (row * nGroups + b) * (p.groupSize / 2);
      for (let i = 0; i < p.groupSize && b * p.groupSize + i < p.k; i++) {
        const q = (p.weight[base + (i >> 1)] >> ((i & 1) * 4)) & 0xf;
        out[row * p.k + b * p.groupSize + i] = Math.fround((q - zp) * scale);
      }
    }
  }
  return out;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
