// How each checkpoint tensor is stored in a converted model, and the twin transform that gives the
// exact fp32 weights the graph computes with (so the reference can be run on "what ONNX sees").
import { CheckpointError } from './errors';
import { dequantize4, quantize4, QUANT_GROUP, type PackedNBits } from './quantize';
import { expectedTensors } from './checkpoint';
import { f16ToF32, f32ToF16, numElements } from './safetensors';
import type { SdarConfig, Tensor, WeightSource } from './types';

/** Weight format of a converted model: fp32 (CPU, exact), int4 MatMulNBits (CPU, real sizes), fp16 (WebGPU). */
export type WeightFormat = 'fp32' | 'int4' | 'fp16';
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['fp32', 'int4', 'fp16'];

/** Storage of one tensor: dense fp32, dense fp16 (cast to fp32 in the graph), or 4-bit groups. */
export type Storage = 'fp32' | 'fp16' | 'int4';

const LINEAR = /(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$|^lm_head\.weight$/;
const FP16_MAX = 65504;

export function isLinear(name: string): boolean {
  return LINEAR.test(name);
}

export function storageOf(name: string, format: WeightFormat): Storage {
  if (isLinear(name)) return format;
  if (name === 'model.embed_tokens.weight') return format === 'fp32' ? 'fp32' : 'fp16';
  return 'fp32'; // norms: small, and computed in fp32 (models.md §1)
}

/**
 * Rounds to fp16, refusing values that would overflow (bf16 checkpoints can exceed fp16's range). `firstIndex`:
 * where `t.data` starts in the whole tensor, when it is one piece of it (the error names the index in the tensor);
 * `dst`: where to write the bits (as long as `t.data`), else a new array.
 */
export function toF16Bits(name: string, t: Pick<Tensor, 'data'>, firstIndex = 0, dst?: Uint16Array<ArrayBuffer>): Uint16Array {
  for (let i = 0; i < t.data.length; i++) {
    if (!(Math.abs(t.data[i]) <= FP16_MAX)) {
      throw new CheckpointError(name, 'bad-model', `value ${t.data[i]} at index ${firstIndex + i} does not fit fp16; convert with --weights fp32 or int4`);
    }
  }
  return f32ToF16(t.data, dst);
}

export function roundToF16(name: string, t: Tensor): Float32Array {
  return f16ToF32(toF16Bits(name, t));
}

export function quantizeLinear(t: Tensor): PackedNBits {
  const [n, k] = t.shape;
  return quantize4(t.data, n, k, QUANT_GROUP);
}

/** The twin: a WeightSource whose tensors equal what a `format` graph computes with. */
export function effectiveWeights(source: WeightSource, format: WeightFormat): WeightSource {
  return {
    config: source.config,
    names: () => source.names(),
    read(name: string): Tensor {
      const t = source.read(name);
      switch (storageOf(name, format)) {
        case 'fp32': return t;
        case 'fp16': return { shape: t.shape, data: roundToF16(name, t) };
        case 'int4': return { shape: t.shape, data: dequantize4(quantizeLinear(t)) };
      }
    },
  };
}

/** Total parameter count implied by the config (untied lm_head). */
export function parameterCount(c: SdarConfig): number {
  return expectedTensors(c).reduce((sum, t) => sum + numElements(t.shape), 0);
}
