// The one request record, from the keystroke to the decoder: what the completion service (or a command, or the CLI)
// asks the engine for, and the vocabulary of its fields. Plain data only: it crosses the host ⇄ engine boundary
// (a worker thread or a child process) as it is, and this folder imports nothing of ours.

/** Decoding strategies (docs/decoding.md): SDAR's own decoding, SimSD as released, exactly lossless SimSD. */
export const STRATEGY_NAMES = ['native', 'simsd', 'simsd-exact', 'lookup'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** Which holes a denoising step reveals: the n most confident (static) or all above τ, else the top n (dynamic). */
export const REVEAL_RULE_NAMES = ['static', 'dynamic'] as const;
export type RevealRuleName = (typeof REVEAL_RULE_NAMES)[number];

export type FinishReason = 'stop' | 'length' | 'cancelled';

/** How to decode, validated by the engine against the models (decode/params.ts). */
export interface GenerateParams {
  readonly strategy: StrategyName | 'auto';
  readonly rule?: RevealRuleName;             // the reveal rule; default static
  readonly maxTokens: number;                 // budget in tokens
  readonly threshold?: number;                // τ of the dynamic rule; default 0.9
  readonly stepsPerBlock?: number;            // S; must divide bl; default bl (one reveal per step)
  readonly temperature?: number;              // 0 (default): argmax. > 0: coupled Gumbel-max sampling
  readonly topK?: number;                     // candidates for sampling, 1..64; default 64
  readonly seed?: number;                     // noise seed, an integer in [0, 2^32); default 0
  readonly fold?: boolean;                    // fold the clean pass into the next forward; default true
  readonly blocksPerVerify?: number;          // K blocks per verification; default 1
  readonly stopIds?: readonly number[];       // extra stop ids
  readonly modelStopIds?: boolean;            // default true; false ignores the model's stop ids (parity runs)
  /** Single-line completions: the output ends with the first line break (the first line is all they show). */
  readonly stopAtLineEnd?: boolean;
  /**
   * Stop strings (the server's OpenAI `stop`): the output ends just after the token that completes one of them
   * (decode/canvas.ts stopStringCut); the stop string stays in the output, and the caller removes it from the text.
   */
  readonly stopStrings?: readonly string[];
}

/** 0-based line and UTF-16 character offset, as VS Code's Position. */
export interface CursorPosition {
  readonly line: number;
  readonly character: number;
}

export interface ContextLimits {
  readonly prefixLines: number;
  readonly suffixLines: number;
}

/**
 * The document around the cursor, cut at line boundaries (completion/context.ts builds it): lines above, the cursor
 * line split at the cursor, lines below. Every cut is at a line boundary, so typing on the cursor line never moves
 * a cut and the prompt head stays identical (docs/completion.md §2).
 */
export interface CursorContext {
  readonly uri: string;
  readonly languageId: string;
  readonly prefixLines: readonly string[];    // lines above the cursor line, top first
  readonly linePrefix: string;                // cursor line left of the cursor
  readonly lineSuffix: string;                // cursor line right of the cursor
  readonly suffixLines: readonly string[];    // lines below the cursor line, top first
  readonly cursor: CursorPosition;
  readonly firstLine: number;                 // document line of prefixLines[0] (= cursor.line when empty)
  readonly reachesDocumentEnd: boolean;       // suffixLines reaches the document's last line
  readonly limits: ContextLimits;
}

/** A piece of recently seen code from another place, put ahead of the prompt (docs/completion.md §2.4). */
export interface RingChunk {
  readonly path: string;                      // shown in the chunk's header comment
  readonly languageId: string;
  readonly lines: readonly string[];
}

export type PromptLayout = 'fim' | 'prefix';

export interface PromptOptions {
  readonly maxPromptTokens: number;           // completion.maxPromptTokens
  readonly layout: PromptLayout;              // 'fim' falls back to 'prefix' when the tokenizer has no FIM ids
}

/** One turn of a chat, as the checkpoint's chat template takes it. */
export interface ChatTurn {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/** What to turn into prompt ids, in the engine (tokenization stays off the extension host's thread). */
export type PromptSpec =
  // outputReserve: tokens kept free for the output. A warm-up passes the completion's value, not its own 0, so that
  // both build the same prompt (and the warm-up fills exactly the prefix cache the completion will reuse).
  | { readonly kind: 'completion'; readonly context: CursorContext; readonly ring: readonly RingChunk[]; readonly options: PromptOptions; readonly outputReserve: number }
  | { readonly kind: 'chat'; readonly instruction: string; readonly context: string; readonly languageId: string }
  | { readonly kind: 'ids'; readonly ids: readonly number[] }
  // The server's prompts, never cut to fit (a prompt beyond the context is refused). `text`: the prefix as is, or
  // with a suffix the PSM fill-in-the-middle ids `<|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|>` when
  // the target can infill (EngineReady.fim), else the prefix alone. `messages`: rendered by the chat template.
  | { readonly kind: 'text'; readonly prefix: string; readonly suffix?: string }
  | { readonly kind: 'messages'; readonly messages: readonly ChatTurn[] };

/**
 * The user message of Generate Code: the instruction and, when there is any, the code before the cursor. One text for
 * the local engine (which fits `code` to the model's context first) and for a remote server's chat completions.
 */
export function generateCodeMessage(instruction: string, code: string, languageId: string): string {
  return code.trim() === ''
    ? `${instruction}\nReply with code only.`
    : `${instruction}\n\nThe code before the cursor (${languageId}):\n\`\`\`\n${code}\n\`\`\`\nReply with code only.`;
}

/** Lower numbers yield: a request cancels active work of equal or lower priority (latest wins). */
export const PRIORITY = { warmup: 0, completion: 1, generate: 2 } as const;
export type RequestKind = keyof typeof PRIORITY;

export interface Request {
  readonly kind: RequestKind;
  readonly fileKey: string;                   // the prefix cache to use ('' = none)
  readonly prompt: PromptSpec;
  readonly params: GenerateParams;
}

/**
 * How a requester cancels (VS Code's CancellationToken has this shape): the host side's one form of cancellation.
 * The client turns it into a `cancel` message; the engine into the flag it checks before every forward.
 */
export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): unknown;
}
