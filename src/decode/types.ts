// Plain records of the decode layer (simsd.md). Vocabulary: shared/design/README.md (block, canvas, hole, step,
// reveal, commit, clean pass, round, accept, correction token, verify window, state copy…).
import type { KvCache } from '../model/kv';
import type { CancelFlag, ForwardModel } from '../model/types';

export type StrategyName = 'vanilla-static' | 'vanilla-dynamic' | 'simsd' | 'simsd-exact';
export const STRATEGY_NAMES: readonly StrategyName[] = ['vanilla-static', 'vanilla-dynamic', 'simsd', 'simsd-exact'];

export type FinishReason = 'stop' | 'length' | 'cancelled';
export type RevealRuleName = 'static' | 'dynamic';

/** Which holes a step reveals (simsd.md §1.2). `perStep` is n_s = bl / S. */
export type RevealRule =
  | { readonly kind: 'static'; readonly perStep: number }
  | { readonly kind: 'dynamic'; readonly perStep: number; readonly threshold: number };

/** Coupled Gumbel-max sampling (simsd.md §5.4); absent = greedy argmax. */
export interface Sampling {
  readonly temperature: number;  // T > 0
  readonly topK: number;         // 1..64: candidates are the k highest logits
  readonly seed: number;         // uint32
}

/** One step's reveals: canvas indices in ascending order and the tokens written there. */
export interface StepChoice {
  readonly positions: Int32Array; // [n] canvas indices (0..bl−1), ascending
  readonly tokens: Int32Array;    // [n]
}

/** A finished block whose clean pass is folded into the lane's next forward (simsd.md §5.1). */
export interface PendingBlock {
  readonly blockStart: number;    // absolute position of its first slot; always the block just before the canvas
  readonly tokens: Int32Array;    // [bl], no holes
}

/**
 * Where one generation stands between rounds. Invariant, for each lane in use:
 * cache.length + (pending ? bl : 0) === blockStart.
 */
export interface DecodeState {
  readonly blockStart: number;        // absolute position of canvas[0], a multiple of bl
  readonly canvas: Int32Array;        // [bl]; MASK id = hole
  readonly firstGenerated: number;    // canvas index of the first generated slot (|leftover| in the first block, else 0)
  readonly step: number;              // denoising steps already applied to this canvas (noise key, §5.4)
  readonly output: readonly number[]; // generated tokens of the blocks already finished
  readonly targetPending: PendingBlock | null;
  readonly draftPending: PendingBlock | null;
}

/** Forward counters of one model during decoding (prefill excluded). Mutated only by forwards.ts. */
export interface LaneCounter {
  forwards: number;
  rows: number;             // window rows run
  cleanPasses: number;      // separate clean passes
  foldedCleanPasses: number;
}

/** One model in one generation: the model, its KV cache and its counters. */
export interface Lane {
  readonly model: ForwardModel;
  readonly cache: KvCache;
  readonly counter: LaneCounter;
}

/** What a target verification made of a round, in absolute positions (metrics are cut at the stop later). */
export interface VerificationRecord {
  readonly drafted: Int32Array;   // positions proposed by the draft in the blocks that were compared
  readonly matched: Int32Array;   // drafted positions accepted as the draft proposed them
  readonly accepted: Int32Array;  // positions made final by this verification (matched + correction)
}

export interface RoundResult {
  readonly state: DecodeState;
  readonly verification: VerificationRecord | null; // null for native strategies
}

/** Validated generation parameters with defaults applied. */
export interface DecodeParams {
  readonly blockLength: number;
  readonly maskId: number;
  readonly stopIds: ReadonlySet<number>;
  readonly maxTokens: number;
  readonly rule: RevealRule;           // the target's reveal rule for simsd-exact
  readonly staticRule: RevealRule;     // vanilla-static, and the simsd draft
  readonly dynamicRule: RevealRule;    // vanilla-dynamic
  readonly sampling: Sampling | null;
  readonly fold: boolean;
  readonly blocksPerVerify: number;    // K
}

/** Everything a round needs besides the state. */
export interface RoundContext {
  readonly target: Lane;
  readonly draft: Lane | null;
  readonly params: DecodeParams;
  readonly signal?: CancelFlag;
}

export type Strategy = (ctx: RoundContext, state: DecodeState) => Promise<RoundResult>;

/** Raised for invalid generation parameters; the message says what to change. */
