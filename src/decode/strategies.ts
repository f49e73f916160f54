// The strategy map (style.md rule 5): a name from the StrategyName union → one round of that strategy.
import { simsdRound } from './simsd';
import { simsdExactRound } from './simsd-exact';
import type { Strategy, StrategyName } from './types';
import { vanillaRound } from './vanilla';

export const STRATEGIES: Readonly<Record<StrategyName, Strategy>> = {
  'vanilla-static': (ctx, state) => vanillaRound(ctx, state, ctx.params.staticRule),
  'vanilla-dynamic': (ctx, state) => vanillaRound(ctx, state, ctx.params.dynamicRule),
  'simsd': simsdRound,
  'simsd-exact': simsdExactRound,
};

/** Strategies that run a draft model next to the target. */
export const USES_DRAFT: Readonly<Record<StrategyName, boolean>> = {
  'vanilla-static': false,
  'vanilla-dynamic': false,
  'simsd': true,
  'simsd-exact': true,
};

/** The native strategy that defines the correct output for a reveal rule. */
export const NATIVE_FOR_RULE = { static: 'vanilla-static', dynamic: 'vanilla-dynamic' } as const;

export function isStrategyName(name: string): name is StrategyName {
  return Object.prototype.hasOwnProperty.call(STRATEGIES, name);
}
