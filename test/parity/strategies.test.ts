// Greedy parity of every strategy against native decoding on the fp32 reference model (the oracle twin).
// Run: npx tsc --noEmit -p . && node esbuild.mjs --tests && node --test out/test/parity/strategies.test.js
import { referenceFactory } from '../decode-helpers';
import { strategyParitySuite } from './strategies-suite';

strategyParitySuite('ReferenceModel fp32', referenceFactory);
