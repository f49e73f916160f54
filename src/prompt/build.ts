// The cursor context → prompt token ids (docs/completion.md §2), and the chat prompt of Generate Code.
//
//   fim:    [ring chunks] <|fim_prefix|> prefix lines <|fim_suffix|> rest of cursor line + suffix lines
//           <|fim_middle|> cursor line left of the cursor
//   prefix: [ring chunks] prefix lines, cursor line left of the cursor
//
// Why each piece is encoded on its own and joined by special ids: a BPE tokenizer never merges across a special
// token (added tokens are split out before the pre-tokenizer and the merges run), so the ids of a piece depend only
// on that piece's text. While the user types on one line, only the last piece changes, and every id before
// <|fim_middle|> stays identical. The prefix cache reuses exactly the committed blocks before the first changed id
// (completion.md §2.3 "block arithmetic"), so one keystroke re-prefills only the cursor line's tokens plus < bl.
// The pieces also start and end at line boundaries, where Qwen's pre-tokenizer (`\s*[\r\n]+` is its own pre-token)
// already splits, so the per-piece ids equal the whole-text ids in practice; the prefix layout relies on that too.
//
// The budget keeps that property: the prefix-line cut never depends on the cursor line. The middle has a fixed
// reserve, and only the middle itself is shortened when a very long line exceeds what is left.
import { generateCodeMessage, type CursorContext, type PromptLayout, type PromptOptions, type RingChunk } from '../protocol/request';
import { fitHeadLines, fitTailLines } from './budget';
import type { PromptTokenizer } from './tokenizer';

export const DEFAULT_PROMPT_OPTIONS: PromptOptions = { maxPromptTokens: 1024, layout: 'fim' };

/** Shares of maxPromptTokens (completion.md §2.2): ring ≤ 25 %, suffix ≤ 20 %; the rest is the prefix's (≥ 50 %). */
const RING_SHARE = 0.25;
const SUFFIX_SHARE = 0.2;
/** Fixed room for the cursor line left of the cursor, so its growth never moves the prefix-line cut. */
const MIDDLE_SHARE = 1 / 16;

/** Token counts per piece; special ids excluded. */
export interface PieceLengths {
  readonly ring: number;
  readonly prefix: number;
  readonly suffix: number;
  readonly middle: number;
}

export interface PromptDrops {
  /** Ring chunks left out: over the ring budget (the sender already left out those too similar to the context). */
  readonly ringChunks: number;
  readonly prefixLines: number;
  readonly suffixLines: number;
  /** Leading tokens of an over-long cursor line that did not fit. */
  readonly middleTokens: number;
}

export interface PromptIds {
  readonly ids: readonly number[];
  readonly layout: PromptLayout;
  readonly pieceLengths: PieceLengths;
  /** Ids before the cursor-line piece (through <|fim_middle|> for fim): unchanged while typing on one line. */
  readonly headLength: number;
  readonly dropped: PromptDrops;
}

export function buildPrompt(
  context: CursorContext,
  ring: readonly RingChunk[],
  tokenizer: PromptTokenizer,
  options: PromptOptions = DEFAULT_PROMPT_OPTIONS,
): PromptIds {
  const fim = options.layout === 'fim' ? tokenizer.fim : null;
  const max = Math.max(0, Math.floor(options.maxPromptTokens));
  const specials = fim === null ? 0 : 3;

  const ringPart = fitRing(ring, tokenizer, Math.floor(max * RING_SHARE));
  const suffix =
    fim === null
      ? { ids: [], droppedLines: context.suffixLines.length }
      : fitHeadLines(context.lineSuffix, context.suffixLines, tokenizer, Math.floor(max * SUFFIX_SHARE));
  const prefixBudget = max - specials - ringPart.ids.length - suffix.ids.length - Math.floor(max * MIDDLE_SHARE);
  const prefix = fitTailLines(context.prefixLines, tokenizer, Math.max(0, prefixBudget));

  const middleBudget = Math.max(0, max - specials - ringPart.ids.length - suffix.ids.length - prefix.ids.length);
  const middleAll = context.linePrefix === '' ? [] : tokenizer.encode(context.linePrefix);
  const middle = middleAll.length > middleBudget ? middleAll.slice(middleAll.length - middleBudget) : middleAll;

  const head =
    fim === null
      ? [...ringPart.ids, ...prefix.ids]
      : [...ringPart.ids, fim.prefix, ...prefix.ids, fim.suffix, ...suffix.ids, fim.middle];
  return {
    ids: [...head, ...middle],
    layout: fim === null ? 'prefix' : 'fim',
    pieceLengths: {
      ring: ringPart.ids.length,
      prefix: prefix.ids.length,
      suffix: suffix.ids.length,
      middle: middle.length,
    },
    headLength: head.length,
    dropped: {
      ringChunks: ring.length - ringPart.numChunks,
      prefixLines: prefix.droppedLines,
      suffixLines: suffix.droppedLines,
      middleTokens: middleAll.length - middle.length,
    },
  };
}

/** The header that names a chunk's file, as a line comment of the chunk's language. */
export function ringChunkText(chunk: RingChunk, numLines = chunk.lines.length): string {
  const body = chunk.lines.slice(0, numLines).join('\n');
  return `${commentLine(chunk.languageId, `Path: ${chunk.path}`)}\n${body}\n`;
}

interface RingPart {
  readonly ids: readonly number[];
  readonly numChunks: number;
}

/**
 * The newest chunks that fit the ring budget, emitted oldest first. The newest are the most relevant (the code just
 * copied or left); a new chunk changes the head only at ring events (save, copy, jump, switch), never per keystroke.
 * When a chunk does not fit whole, its leading lines that fit are kept and the walk stops.
 */
function fitRing(chunks: readonly RingChunk[], tokenizer: PromptTokenizer, budget: number): RingPart {
  const picked: number[][] = [];
  let used = 0;
  for (let i = chunks.length - 1; i >= 0; i--) {
    const chunk = chunks[i]!;
    const ids = tokenizer.encode(ringChunkText(chunk));
    if (used + ids.length <= budget) {
      picked.unshift(ids);
      used += ids.length;
      continue;
    }
    const partial = leadingLinesThatFit(chunk, tokenizer, budget - used);
    if (partial !== null) picked.unshift(partial);
    break;
  }
  return { ids: picked.flat(), numChunks: picked.length };
}

/** The chunk's header plus as many leading lines as fit (binary search: token count grows with lines). */
function leadingLinesThatFit(chunk: RingChunk, tokenizer: PromptTokenizer, budget: number): number[] | null {
  let best: number[] | null = null;
  let low = 1;
  let high = chunk.lines.length - 1;
  while (low <= high) {
    const numLines = (low + high) >> 1;
    const ids = tokenizer.encode(ringChunkText(chunk, numLines));
    if (ids.length <= budget) {
      best = ids;
      low = numLines + 1;
    } else {
      high = numLines - 1;
    }
  }
  return best;
}

const HASH_COMMENT = new Set([
  'python', 'ruby', 'shellscript', 'perl', 'r', 'yaml', 'toml', 'dockerfile', 'makefile', 'powershell', 'julia',
  'elixir', 'coffeescript', 'nim', 'cmake', 'properties',
]);
const DASH_COMMENT = new Set(['lua', 'sql', 'haskell', 'elm', 'ada']);
const MARKUP_COMMENT = new Set(['html', 'xml', 'markdown', 'vue', 'svelte']);

function commentLine(languageId: string, text: string): string {
  if (HASH_COMMENT.has(languageId)) return `# ${text}`;
  if (DASH_COMMENT.has(languageId)) return `-- ${text}`;
  if (MARKUP_COMMENT.has(languageId)) return `<!-- ${text} -->`;
  return `// ${text}`;
}

/**
 * Generate Code's prompt: the instruction, then as much of the code before the cursor as fits `budget` tokens, nearest
 * the cursor first; the instruction itself is always kept. `encodeChat` renders the checkpoint's chat template (a
 * program with a time budget of its own), so it runs at most three times: the code's share is sized with `encode`.
 */
export function buildChatPrompt(
  instruction: string, code: string, languageId: string, encodeChat: (userMessage: string) => number[],
  encode: (text: string) => number[], budget: number,
): number[] {
  const ask = (kept: string) => encodeChat(generateCodeMessage(instruction, kept, languageId));
  const bare = ask('');
  const lines = code.split('\n');
  // The first line to keep: the longest tail of lines whose tokens fit what the bare prompt leaves (binary search).
  let room = budget - bare.length - 16; // 16: the fence and the header around the code
  for (let attempt = 0; attempt < 2 && room > 0; attempt++) {
    let low = 0;
    let high = lines.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (encode(lines.slice(mid).join('\n')).length <= room) high = mid; else low = mid + 1;
    }
    const ids = ask(lines.slice(low).join('\n'));
    if (ids.length <= budget) return ids;
    room -= ids.length - budget; // the estimate was short by this much: try once more with less code
  }
  return bare;
}
