// Plain records of the decode layer (decoding.md). Vocabulary: docs/README.md §2 (block, canvas, hole, step,
// reveal, commit, clean pass, round, accept, correction token, verify window, state copy…).
import type { KvCache } from '../model/types';
import type { CancelFlag, ForwardModel } from '../model/types';

/** Which holes a step reveals (decoding.md §1.2). `perStep` is n_s = bl / S. */
export type RevealRule =
  | { readonly kind: 'static'; readonly perStep: number }
  | { readonly kind: 'dynamic'; readonly perStep: number; readonly threshold: number };

/** Coupled Gumbel-max sampling (decoding.md §6); absent = greedy argmax. */
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

/** A finished block whose clean pass is folded into the lane's next forward (decoding.md §4). */
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
  readonly step: number;              // denoising steps already applied to this canvas (noise key, decoding.md §6)
  readonly output: readonly number[]; // generated tokens of the blocks already finished
  readonly targetPending: PendingBlock | null;
  readonly draftPending: PendingBlock | null;
}

/** Forward counters of one model during decoding (prefill excluded). Mutated only by the forwards in generate.ts. */
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

/** What one call of a strategy did: a denoising step (native) or a round (draft, verify, accept). */
export interface Advance {
  readonly state: DecodeState;
  readonly verification: VerificationRecord | null; // null for native decoding
}

/** Validated generation parameters with defaults applied. */
export interface DecodeParams {
  readonly blockLength: number;
  readonly maskId: number;
  readonly stopIds: ReadonlySet<number>;
  readonly maxTokens: number;
  readonly rule: RevealRule;           // the target's reveal rule (native decoding defines the output with it)
  readonly sampling: Sampling | null;
  readonly fold: boolean;
  readonly blocksPerVerify: number;    // K
}

/** Everything a strategy needs besides the state. */
export interface DecodeContext {
  readonly target: Lane;
  readonly draft: Lane | null;
  readonly params: DecodeParams;
  readonly signal?: CancelFlag;
  readonly promptIds: readonly number[]; // what the context lookup searches, with the output so far
}

/** One call advances the state by a denoising step (native) or a round (speculative). */
export type Strategy = (ctx: DecodeContext, state: DecodeState) => Promise<Advance>;
