// The suggestion cache (completion.md §4): finished completion texts served with no engine call. Not the prefix
// cache, which holds K/V in the worker.
//   1. typing-through: the text typed since the last shown suggestion is a prefix of it → show the remainder
//      (Copilot "typing as suggested", Tabby, llama.vim, Continue);
//   2. forwarding entries: each stored result is also keyed as if its first 1–49 characters, its first line, and the
//      next line's indentation had been typed (Tabby `cache.ts`);
//   3. an LRU keyed by uri + hash(prefix lines) + hash(suffix) + cursor-line text, also tried with the prefix minus
//      1–3 leading lines (llama.vim's scrolling hashes: the prefix lines slide when a line is added above the
//      cursor) and with up to 128 trailing characters of the cursor line taken back (llama.vim's lookback).
// The LRU counts results, not keys: one result owns all its keys (about 55) in a side index that is cleaned when
// the result is evicted or expires, so 256 entries mean 256 results.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { CursorContext } from '../protocol/request';
import { insertAtCursor, textAfterCursor, textBeforeCursor } from './context';

export type SuggestionSource = 'typing-through' | 'lru' | 'forwarding' | 'lookback';

export interface SuggestionHit {
  /** Text to insert at the cursor. Never empty. */
  readonly completion: string;
  readonly source: SuggestionSource;
}

/** Counters for the status bar tooltip; hitRate = hits / lookups (0 when there were none). */
export interface SuggestionStats {
  readonly lookups: number;
  readonly misses: number;
  readonly hits: Readonly<Record<SuggestionSource, number>>;
  readonly hitRate: number;
}

export interface SuggestionCacheOptions {
  readonly maxEntries: number;
  readonly ttlMs: number;
  readonly maxForwardChars: number;
  readonly lookbackChars: number;
  readonly lookbackLines: number;
  /** Time source for the TTL; tests inject a fake one. */
  readonly clock: { now(): number };
}

export const DEFAULT_SUGGESTION_CACHE_OPTIONS: SuggestionCacheOptions = {
  maxEntries: 256,
  ttlMs: 5 * 60 * 1000,
  maxForwardChars: 50,
  lookbackChars: 128,
  lookbackLines: 3,
  clock: performance,
};

interface StoredSuggestion {
  readonly completion: string;
  readonly keys: readonly string[];
}

interface IndexEntry {
  readonly entryId: number;
  /** Characters of the completion the key assumes were already typed. */
  readonly consumed: number;
  readonly source: 'lru' | 'forwarding';
}

interface ShownSuggestion {
  readonly uri: string;
  readonly before: string;
  readonly after: string;
  readonly completion: string;
}

export class SuggestionCache {
  private readonly options: SuggestionCacheOptions;
  private readonly entries: LRUCache<number, StoredSuggestion>;
  private readonly index = new Map<string, IndexEntry>();
  private shown: ShownSuggestion | null = null;
  private nextEntryId = 1;
  private readonly counts = { lookups: 0, misses: 0, 'typing-through': 0, lru: 0, forwarding: 0, lookback: 0 };

  constructor(options: Partial<SuggestionCacheOptions> = {}) {
    this.options = { ...DEFAULT_SUGGESTION_CACHE_OPTIONS, ...options };
    this.entries = new LRUCache<number, StoredSuggestion>({
      max: this.options.maxEntries,
      ttl: this.options.ttlMs,
      // Check the clock on every read: with the default 1 ms resolution lru-cache memoises now() on a timer.
      ttlResolution: 0,
      perf: this.options.clock,
      dispose: (stored, entryId) => this.unindex(stored, entryId),
    });
  }

  /** Stores a post-processed result for `context`, with its lookback-line variants and forwarding entries. */
  store(context: CursorContext, completion: string): void {
    if (completion === '') return;
    const entryId = this.nextEntryId++;
    const keys: string[] = [];
    const put = (key: string, consumed: number, source: IndexEntry['source']): void => {
      this.index.set(key, { entryId, consumed, source });
      keys.push(key);
    };
    const parts = keyParts(context, this.options.lookbackLines);
    for (const prefixHash of parts.prefixHashes) put(joinKey(parts, prefixHash, context.linePrefix), 0, 'lru');
    for (const consumed of forwardingOffsets(completion, this.options.maxForwardChars)) {
      const typedText = completion.slice(0, consumed);
      const typed = insertAtCursor(context, typedText);
      // Typing never changes the suffix; only a typed line break changes the prefix lines.
      const prefixHash = typedText.includes('\n') ? hashText(typed.prefixLines.join('\n')) : parts.prefixHashes[0]!;
      put(joinKey(parts, prefixHash, typed.linePrefix), consumed, 'forwarding');
    }
    this.entries.set(entryId, { completion, keys });
  }

  /** Remembers the suggestion VS Code is showing, for typing-through. */
  markShown(context: CursorContext, completion: string): void {
    this.shown = { uri: context.uri, before: textBeforeCursor(context), after: textAfterCursor(context), completion };
  }

  clearShown(): void {
    this.shown = null;
  }

  /** Zero-call paths in order: typing-through, exact key, prefix minus 1–3 lines, cursor-line lookback. */
  lookup(context: CursorContext): SuggestionHit | null {
    this.counts.lookups++;
    const hit = this.typingThrough(context) ?? this.fromIndex(context);
    if (hit === null) this.counts.misses++;
    else this.counts[hit.source]++;
    return hit;
  }

  stats(): SuggestionStats {
    const { lookups, misses } = this.counts;
    const hits = {
      'typing-through': this.counts['typing-through'],
      lru: this.counts.lru,
      forwarding: this.counts.forwarding,
      lookback: this.counts.lookback,
    };
    return { lookups, misses, hits, hitRate: lookups === 0 ? 0 : (lookups - misses) / lookups };
  }

  /** Number of stored results (not keys). */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.index.clear();
    this.shown = null;
  }

  private typingThrough(context: CursorContext): SuggestionHit | null {
    const shown = this.shown;
    if (shown === null || shown.uri !== context.uri || textAfterCursor(context) !== shown.after) return null;
    const before = textBeforeCursor(context);
    // The prefix lines may have slid down by the lines the user typed: try the shown text minus 0–3 leading lines.
    for (let dropped = 0; dropped <= this.options.lookbackLines; dropped++) {
      const base = dropLeadingLines(shown.before, dropped);
      if (base === null) break;
      if (!before.startsWith(base)) continue;
      const typed = before.slice(base.length);
      if (!shown.completion.startsWith(typed) || typed.length === shown.completion.length) return null;
      return { completion: shown.completion.slice(typed.length), source: 'typing-through' };
    }
    return null;
  }

  private fromIndex(context: CursorContext): SuggestionHit | null {
    const parts = keyParts(context, this.options.lookbackLines);
    for (let dropped = 0; dropped < parts.prefixHashes.length; dropped++) {
      const hit = this.resolve(joinKey(parts, parts.prefixHashes[dropped]!, context.linePrefix));
      if (hit !== null) return dropped === 0 ? hit : { ...hit, source: 'lookback' };
    }
    const line = context.linePrefix;
    const maxBack = Math.min(this.options.lookbackChars, line.length);
    for (let back = 1; back <= maxBack; back++) {
      const hit = this.resolve(joinKey(parts, parts.prefixHashes[0]!, line.slice(0, line.length - back)));
      const typed = line.slice(line.length - back);
      if (hit !== null && hit.completion.startsWith(typed) && hit.completion.length > typed.length) {
        return { completion: hit.completion.slice(typed.length), source: 'lookback' };
      }
    }
    return null;
  }

  private resolve(key: string): SuggestionHit | null {
    const entry = this.index.get(key);
    if (entry === undefined) return null;
    const stored = this.entries.get(entry.entryId);
    if (stored === undefined) {
      this.index.delete(key);
      return null;
    }
    const completion = stored.completion.slice(entry.consumed);
    return completion === '' ? null : { completion, source: entry.source };
  }

  private unindex(stored: StoredSuggestion, entryId: number): void {
    for (const key of stored.keys) {
      if (this.index.get(key)?.entryId === entryId) this.index.delete(key);
    }
  }
}

/**
 * Offsets into `completion` to pre-key: 1..49 characters along the first line (Tabby stops one short of the line
 * end); for a multi-line result also the line end, the next line start, and the next line after its indentation.
 */
export function forwardingOffsets(completion: string, maxForwardChars: number): readonly number[] {
  const newline = completion.indexOf('\n');
  const firstLineLength = newline < 0 ? completion.length : newline;
  const offsets: number[] = [];
  for (let chars = 1; chars < Math.min(maxForwardChars, firstLineLength); chars++) offsets.push(chars);
  if (newline >= 0) {
    const rest = completion.slice(newline + 1);
    const indent = rest.length - rest.trimStart().length;
    for (const chars of [firstLineLength, newline + 1, newline + 1 + indent]) {
      if (chars > 0 && chars < completion.length && !offsets.includes(chars)) offsets.push(chars);
    }
  }
  return offsets;
}

interface KeyParts {
  readonly uri: string;
  readonly suffixHash: string;
  /** [0] = hash of all prefix lines; [k] = hash without the first k lines (while at least one line remains). */
  readonly prefixHashes: readonly string[];
}

function keyParts(context: CursorContext, lookbackLines: number): KeyParts {
  const prefixHashes: string[] = [];
  for (let dropped = 0; dropped <= lookbackLines; dropped++) {
    if (dropped > 0 && context.prefixLines.length - dropped < 1) break;
    prefixHashes.push(hashText(context.prefixLines.slice(dropped).join('\n')));
  }
  return { uri: context.uri, suffixHash: hashText(textAfterCursor(context)), prefixHashes };
}

function joinKey(parts: KeyParts, prefixHash: string, linePrefix: string): string {
  // The cursor-line text stays raw (not hashed), so the lookback can shorten it without re-hashing the prefix.
  return `${parts.uri}\u0000${prefixHash}\u0000${parts.suffixHash}\u0000${linePrefix}`;
}

function hashText(text: string): string {
  return createHash('sha1').update(text).digest('base64');
}

/** `text` without its first `count` lines, or null when it has no more than `count` line breaks. */
function dropLeadingLines(text: string, count: number): string | null {
  let start = 0;
  for (let i = 0; i < count; i++) {
    const next = text.indexOf('\n', start);
    if (next < 0) return null;
    start = next + 1;
  }
  return text.slice(start);
}
