// The exactness suites on WebGPU with the KV cache kept on the device (testing.md §3): simsd-exact ≡ native under both
// reveal rules, self-draft, fold ≡ separate clean pass, K > 1 ≡ K = 1, cached ≡ recomputed. Outputs must be identical;
// committed K/V of twins computed in windows of different widths agree up to kernel numerics.
import type { ModelFactory } from '../decode-helpers';
import { openSession } from '../model-helpers';
import { strategyParitySuite } from '../parity/strategies-suite';
import { requireWebGpu } from '../webgpu-helpers';

const onWebGpu = (precision: 'fp32' | 'fp16'): ModelFactory => async (weights, variant) => {
  await requireWebGpu();
  return openSession(weights, { variant, ep: 'webgpu', precision, weights: precision, accuracyLevel: 0 });
};

strategyParitySuite('WebGPU fp32, K/V on the device', onWebGpu('fp32'), { kvTolerance: 1e-5, prompts: 12 });
// fp16: windows of different widths round differently, so twins may part where the target's two best logits are within
// fp16 noise: at most 0.1 apart, twice the largest fp16-vs-fp32 logit error measured on these models (4.8e-2,
// graph-webgpu.test.ts). Every such tie is reported; any divergence above the margin fails.
strategyParitySuite('WebGPU fp16, K/V on the device', onWebGpu('fp16'), { kvTolerance: 1e-2, prompts: 12, tieMargin: 0.1 });
