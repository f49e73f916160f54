// WebGPU test helpers. WebGPU tests run for real: CI installs Mesa ≥ 25 lavapipe (a software Vulkan driver, .ci/run);
// a machine without a usable adapter fails them with the reason instead of skipping them.
import { probeWebGpu } from '../src/model/provider';

/**
 * fp16 tolerance on logits against the fp32 reference, relative to the largest |logit| of the window. fp16 keeps 11
 * significant bits (rounding ≤ 2⁻¹¹ ≈ 4.9e-4 relative per operation); weights, activations and K/V are rounded in every
 * projection of every layer and the residual stream carries the errors on, while the norms, scores, softmax and logits
 * run in fp32, so the logit error is a few ulps of fp16 at the logits' scale. Measured on the test models (3 layers,
 * |logit| ≈ 14): 3.5e-3 of the largest |logit| with fp16 weights, 1.5e-3 with int4; the bound leaves ≈ 3× room. Rows whose
 * top-2 gap exceeds twice the bound must pick the same token.
 */
export const FP16_LOGIT_RELATIVE = 1e-2;

let verdict: Promise<string | null> | null = null;

/** Throws, with the probe's reason, when this machine has no working WebGPU (probed once per test process). */
export async function requireWebGpu(): Promise<void> {
  verdict ??= probeWebGpu();
  const reason = await verdict;
  if (reason !== null) {
    throw new Error(`WebGPU is not available here (${reason}); install Mesa ≥ 25 (bookworm-backports mesa-vulkan-drivers libvulkan1), as .ci/run does`);
  }
}
