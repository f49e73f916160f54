// Host ⇄ engine messages and the records they carry back: plain, versioned data. KV buffers and sessions never
// leave the engine; only ids, text and stats cross (docs/architecture.md §2).
import type { FinishReason, Request, StrategyName } from './request';

export const PROTOCOL_VERSION = 2;

export type ExecutionProvider = 'cpu' | 'webgpu';

/** Where the engine runs its models, and why (the WebGPU probe's verdict, shown in the status bar tooltip). */
export interface ProviderChoice {
  readonly executionProvider: ExecutionProvider;
  readonly reason: string;
}

export interface ModelLocation {
  readonly dir: string;             // a checkpoint folder (converted on first use) or a converted folder
  readonly label: string;           // shown to the user, e.g. "embedded target"
}

export interface EngineConfig {
  readonly target: ModelLocation;
  readonly draft: ModelLocation | null;
  readonly threads: number | null;  // null: cores − 1
  readonly cacheBudgetBytes: number; // prefix-cache LRU budget over all files
  readonly convertedRoot: string;   // where checkpoints are converted to (global storage)
  /** Open the sampling graphs (they also serve greedy requests), needed for temperature > 0; default false. */
  readonly sampling?: boolean;
}

export interface EngineReady {
  readonly executionProvider: ExecutionProvider;
  readonly providerReason: string;
  /** The graphs' float type: fp32 on the CPU, fp16 on WebGPU (with the KV cache on the device). */
  readonly precision: 'fp32' | 'fp16';
  readonly target: string;
  readonly draft: string | null;
  readonly strategy: StrategyName;  // what `auto` chose at calibration
  readonly loadMs: number;
  readonly fim: boolean;            // the target's manifest says FIM prompts work
  readonly contextTokens: number;   // prompt + output are kept within this many positions
}

export interface AcceptLengthStats {
  readonly mean: number;                  // tokens made final per target verification
  readonly histogram: readonly number[];  // histogram[n] = verifications that made n tokens final
}

/** What one generation cost and achieved (decode/metrics.ts computes it). */
export interface DecodeStats {
  readonly strategy: StrategyName;
  readonly newTokens: number;             // emitted tokens (stop id excluded)
  readonly targetForwards: number;        // verify + denoise + separate clean passes (folded ones ride along)
  readonly draftForwards: number;
  readonly targetRows: number;            // window rows through the target
  readonly draftRows: number;
  readonly cleanPasses: number;           // separate target clean passes
  readonly foldedCleanPasses: number;     // target clean passes folded into another forward
  readonly verifications: number;
  readonly acceptLength: AcceptLengthStats | null; // null for native decoding
  readonly draftedTokens: number;
  readonly matchedTokens: number;
  readonly matchRate: number | null;      // matched / drafted, weighted by tokens
  readonly targetForwardsPerToken: number; // 0 when no token was emitted
  readonly draftForwardsPerToken: number;
  readonly prefillTokens: number;         // prompt tokens the target prefilled now (re-prefilled tokens)
  readonly prefillMs: number;
  readonly decodeMs: number;
  readonly tokPerS: number;               // newTokens / decode time
}

/** How much of the prompt the prefix cache covered. */
export interface PrefixUse {
  readonly promptTokens: number;
  readonly reusedTokens: number;    // committed blocks kept from the file's prefix cache
  readonly prefilledTokens: number; // re-prefilled tokens (the target's)
  readonly prefillMs: number;
}

/** The stats a result carries: the engine's, or those a remote server's `usage` gives (src/remote/client.ts). */
export type GenerationStats = Omit<DecodeStats, 'strategy'> & { readonly strategy: StrategyName | 'remote' };

export interface GenerationResult {
  readonly id: number;
  readonly text: string;
  readonly tokenIds: readonly number[];
  readonly finishReason: FinishReason;
  readonly stats: GenerationStats;
  readonly prefix: PrefixUse;
  readonly engineMs: number;        // request received → result posted
}

export type HostMessage =
  | { readonly type: 'init'; readonly v: number; readonly config: EngineConfig; readonly provider: ProviderChoice }
  | { readonly type: 'generate'; readonly id: number; readonly request: Request }
  | { readonly type: 'cancel'; readonly id: number }
  | { readonly type: 'closeFile'; readonly fileKey: string }
  | { readonly type: 'shutdown' };

export type EngineMessage =
  | { readonly type: 'ready'; readonly v: number; readonly ready: EngineReady }
  | { readonly type: 'loading'; readonly detail: string }                      // e.g. converting a checkpoint: 40 %
  | { readonly type: 'progress'; readonly id: number; readonly text: string }   // the output so far, decoded
  | { readonly type: 'done'; readonly result: GenerationResult }
  | { readonly type: 'cancelled'; readonly id: number }
  // id null: loading failed. requestError: the request cannot be served as asked (a RequestError: beyond the context,
  // outside the vocabulary, …): the caller's fault, not the engine's.
  | { readonly type: 'error'; readonly id: number | null; readonly message: string; readonly requestError?: boolean }
  | { readonly type: 'log'; readonly line: string };
