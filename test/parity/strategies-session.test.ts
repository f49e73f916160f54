// The same strategy suites on the ONNX path: ModelSession over an fp32 graph at MatMulNBits accuracy level 0
// (testing.md §3: within 1.2e-6 of the reference). Outputs must still be identical; committed K/V of twins
// computed in windows of different widths agree up to kernel numerics (≤ 1e-5), not bit for bit.
// Run: npx tsc --noEmit -p . && node esbuild.mjs --tests && node --test out/test/parity/strategies-session.test.js
import type { ModelFactory } from '../decode-helpers';
import { openSession } from '../model-helpers';
import { samplingParitySuite } from './strategies-sampling-suite';
import { strategyParitySuite } from './strategies-suite';

const sessionFactory: ModelFactory = (weights, variant) => openSession(weights, { variant, weights: 'fp32', accuracyLevel: 0 });

strategyParitySuite('ModelSession fp32, level 0', sessionFactory, { kvTolerance: 1e-5, prompts: 20 });
samplingParitySuite('ModelSession fp32, level 0', sessionFactory);
