// Calibration for `auto` at load: run each candidate strategy on a short prompt, on fresh caches, and seed the
// tokens/s estimates with the measurements. The engine calls it once per model pair and device.
import type { CancelFlag } from '../model/types';
import { updateEstimates, type AutoEstimates } from './auto';
import type { GenerateParams, StrategyName } from '../protocol/request';
import { generate, withCaches, type ModelPair } from './generate';

export interface CalibrationOptions {
  readonly maxTokens?: number;   // per run; default 16
  readonly runs?: number;        // measured runs per candidate after one warm-up run; default 2
}

/** The short prompt `auto` is calibrated on (code, so that a code pair drafts as it will in use). */
export const CALIBRATION_TEXT = 'def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n';

/**
 * What the engine and the CLI run at load: the lossless candidates (native, and simsd-exact when there is a
 * draft), one warm-up and one measured run of 16 tokens each.
 */
export function calibrateForAuto(models: ModelPair, promptIds: readonly number[], params: Omit<GenerateParams, 'strategy' | 'maxTokens'> = {}): Promise<AutoEstimates> {
  const candidates: StrategyName[] = models.draft ? ['native', 'simsd-exact'] : ['native'];
  return calibrate(models, promptIds, params, candidates, undefined, { maxTokens: 16, runs: 1 });
}

export async function calibrate(
  models: ModelPair, promptIds: readonly number[], params: Omit<GenerateParams, 'strategy' | 'maxTokens'>,
  candidates: readonly StrategyName[], signal?: CancelFlag, options: CalibrationOptions = {},
): Promise<AutoEstimates> {
  const maxTokens = options.maxTokens ?? 16;
  const runs = options.runs ?? 2;
  let estimates: AutoEstimates = {};
  for (const strategy of candidates) {
    for (let run = 0; run <= runs; run++) {
      const g = await withCaches(models, (caches) => generate(models, caches, promptIds, { ...params, strategy, maxTokens }, signal));
      if (g.finishReason === 'cancelled') return estimates;
      if (run > 0) estimates = updateEstimates(estimates, g.stats, 1 / run); // a plain mean over the measured runs
    }
  }
  return estimates;
}
