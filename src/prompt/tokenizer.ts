// A memo in front of PromptTokenizer.encode. While the user types on one line, the ring chunks, the prefix piece,
// the suffix piece and the per-line counts of a budget cut are the same strings on every keystroke; only the cursor
// line is new. With the memo, building a prompt encodes only that line (the extension host's ≤ 2 ms per keystroke).
import { LRUCache } from 'lru-cache';

/** The part of a tokenizer prompt building needs; src/model/tokenizer.ts provides it. */
export interface PromptTokenizer {
  encode(text: string): number[];
  /** FIM special ids, or null when the tokenizer has none. */
  readonly fim: { readonly prefix: number; readonly suffix: number; readonly middle: number } | null;
}

/** Entries: a budget cut asks for one count per context line (≤ 128 + 16) plus a few whole pieces. */
const DEFAULT_MAX_ENTRIES = 1024;

/**
 * Wraps `tokenizer` with an LRU of text → ids. The returned arrays are frozen and shared between calls, so callers
 * copy before changing them (buildPrompt does).
 */
export function memoizeTokenizer(tokenizer: PromptTokenizer, maxEntries = DEFAULT_MAX_ENTRIES): PromptTokenizer {
  const memo = new LRUCache<string, number[]>({ max: maxEntries });
  return {
    fim: tokenizer.fim,
    encode(text: string): number[] {
      const cached = memo.get(text);
      if (cached !== undefined) return cached;
      const ids = Object.freeze(tokenizer.encode(text)) as number[];
      memo.set(text, ids);
      return ids;
    },
  };
}
