// Host ⇄ engine messages: plain, versioned records. KV buffers and sessions never leave the engine;
// only text, ids and stats cross. The engine runs in a worker thread (CPU) or a child process (WebGPU).
import type { GenerateParams } from '../decode/params';
import type { DecodeStats } from '../decode/metrics';
import type { FinishReason } from '../decode/types';
import type { ContextWindows } from '../completion/context';
import type { PromptOptions } from '../completion/prompt';
import type { RingChunk } from '../completion/ring-chunks';
import type { ProviderChoice } from '../model/provider';

export const PROTOCOL_VERSION = 1;

/** Lower numbers yield: a request cancels active work of equal or lower priority (latest wins). */
export const PRIORITY = { warmup: 0, prefetch: 1, completion: 2, generate: 3 } as const;
export type RequestKind = keyof typeof PRIORITY;

export interface ModelLocation {
  readonly dir: string;             // a checkpoint folder (converted on first use) or a converted folder
  readonly label: string;           // shown to the user, e.g. "embedded target"
}

export interface EngineConfig {
  readonly target: ModelLocation;
  readonly draft: ModelLocation | null;
  readonly executionProvider: 'auto' | 'cpu' | 'webgpu';
  readonly threads: number | null;  // null: cores − 1
  readonly cacheBudgetBytes: number; // prefix-cache LRU budget over all files
  readonly convertedRoot: string;   // where checkpoints are converted to (global storage)
  /** Open the sampling graphs (they also serve greedy requests), needed for temperature > 0; default false. */
  readonly sampling?: boolean;
}

/** What to turn into prompt ids, in the engine (tokenization stays off the extension host's thread). */
export type PromptSpec =
  // outputReserve: tokens kept free for the output. A warm-up passes the completion's value, not its own 0, so that
  // both build the same prompt (and the warm-up fills exactly the prefix cache the completion will reuse).
  | { readonly kind: 'completion'; readonly windows: ContextWindows; readonly ring: readonly RingChunk[]; readonly options: PromptOptions; readonly outputReserve: number }
  | { readonly kind: 'chat'; readonly instruction: string; readonly context: string; readonly languageId: string }
  | { readonly kind: 'ids'; readonly ids: readonly number[] };

export interface GenerateMessage {
  readonly type: 'generate';
  readonly id: number;
  readonly kind: RequestKind;
  readonly fileKey: string;         // the prefix cache to use ('' = none)
  readonly prompt: PromptSpec;
  readonly params: GenerateParams;
  readonly stopAtNewline: boolean;  // single-line completions end at the first line break
}

export type HostMessage =
  | { readonly type: 'init'; readonly v: number; readonly config: EngineConfig; readonly provider: ProviderChoice }
  | GenerateMessage
  | { readonly type: 'cancel'; readonly id: number }
  | { readonly type: 'closeFile'; readonly fileKey: string }
  | { readonly type: 'shutdown' };

/** How much of the prompt the prefix cache covered. */
export interface PrefixUse {
  readonly promptTokens: number;
  readonly reusedTokens: number;    // committed blocks kept from the file's prefix cache
  readonly prefilledTokens: number; // re-prefilled tokens (the target's)
  readonly prefillMs: number;
}

export interface GenerationResult {
  readonly id: number;
  readonly text: string;
  readonly tokenIds: readonly number[];
  readonly finishReason: FinishReason;
  readonly stats: DecodeStats;
  readonly strategy: string;
  readonly prefix: PrefixUse;
  readonly engineMs: number;        // request received → result posted
}

export interface EngineReady {
  readonly executionProvider: 'cpu' | 'webgpu';
  readonly providerReason: string;
  readonly target: string;
  readonly draft: string | null;
  readonly strategy: string;        // what `auto` chose at calibration
  readonly loadMs: number;
  readonly fim: boolean;            // the target's manifest says FIM prompts work
  readonly contextTokens: number;   // prompt + output are kept within this many positions
}

export type EngineMessage =
  | { readonly type: 'ready'; readonly v: number; readonly ready: EngineReady }
  | { readonly type: 'progress'; readonly id: number; readonly text: string }
  | { readonly type: 'done'; readonly result: GenerationResult }
  | { readonly type: 'cancelled'; readonly id: number }
  | { readonly type: 'error'; readonly id: number | null; readonly message: string; readonly fatal: boolean }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'memory'; readonly cacheBytes: number; readonly files: number };
