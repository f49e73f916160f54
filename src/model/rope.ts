// Rotary position tables, computed in fp32 exactly as HF's Qwen3 does: angle = fround(p · fround(θ^(−2i/D))).
// Shared by the graph builder (cos/sin caches) and the reference twin, so both see the same numbers.
import type { SdarConfig } from './types';

export function ropeAngle(config: SdarConfig, position: number, i: number): number {
  const invFreq = Math.fround(1 / Math.pow(config.ropeTheta, (2 * i) / config.headDim));
  return Math.fround(position * invFreq);
}

/** cos and sin, each [positions.length, D/2], rounded to fp32. */
export function ropeTables(config: SdarConfig, positions: ArrayLike<number>): { cos: Float32Array; sin: Float32Array } {
  const half = config.headDim / 2;
  const cos = new Float32Array(positions.length * half);
  const sin = new Float32Array(positions.length * half);
  for (let r = 0; r < positions.length; r++) {
    for (let i = 0; i < half; i++) {
      const a = ropeAngle(config, positions[r], i);
      cos[r * half + i] = Math.cos(a);
      sin[r * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}
