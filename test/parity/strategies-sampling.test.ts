// Coupled sampling parity on the fp32 reference model.
// Run: npx tsc --noEmit -p . && node esbuild.mjs --tests && node --test out/test/parity/strategies-sampling.test.js
import { referenceFactory } from '../decode-helpers';
import { samplingParitySuite } from './strategies-sampling-suite';

samplingParitySuite('ReferenceModel fp32', referenceFactory);
