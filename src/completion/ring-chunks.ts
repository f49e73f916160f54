// Ring chunks: small pieces of recently seen code placed ahead of the FIM prompt (completion.md §2.4, after
// llama.vscode `src/extra-context.ts` and llama.vim). The ring is a readonly array owned by the extension; every
// event returns a new array. New chunks are appended so the prompt head (oldest chunks first) stays stable.
import type { CursorContext, RingChunk } from '../protocol/request';
import { stripCr, type DocumentSnapshot } from './context';

export const RING_LIMITS = {
  /** Lines per chunk. */
  maxChunkLines: 64,
  /** A cursor move of more than this many lines snapshots the area it left. */
  jumpLines: 32,
  maxChunks: 16,
  /** A new chunk evicts older chunks more similar than this (Jaccard over lines). */
  duplicateSimilarity: 0.9,
  /** At request time, chunks more similar than this to the cursor context are left out: the model copies them. */
  contextSimilarity: 0.5,
  /** Chunks with fewer non-blank lines carry too little to be worth their tokens. */
  minNonBlankLines: 3,
} as const;

/** True when a cursor move from `fromLine` to `toLine` counts as a jump (> 32 lines). */
export function isCursorJump(fromLine: number, toLine: number): boolean {
  return Math.abs(toLine - fromLine) > RING_LIMITS.jumpLines;
}

/**
 * The chunk centred on `line` (for jumps, saves and editor switches: the area the user was working in).
 * Null when it holds too little text.
 */
export function chunkAroundLine(doc: DocumentSnapshot, path: string, line: number): RingChunk | null {
  const half = RING_LIMITS.maxChunkLines / 2;
  const lines = doc.text.split('\n').map(stripCr);
  const start = Math.max(0, Math.min(line - half, lines.length - RING_LIMITS.maxChunkLines));
  return chunkOf(path, doc.languageId, lines.slice(start, start + RING_LIMITS.maxChunkLines));
}

/** The chunk for copied or cut text: its first 64 lines. Null when it holds too little text. */
export function chunkFromText(path: string, languageId: string, text: string): RingChunk | null {
  return chunkOf(path, languageId, text.split('\n').map(stripCr).slice(0, RING_LIMITS.maxChunkLines));
}

/**
 * Adds a chunk at the end of the ring. An identical chunk already present leaves the ring unchanged (its prompt
 * position and cached K/V stay valid). Near-duplicates (Jaccard > 0.9) are evicted; then the oldest chunks go
 * until at most 16 remain.
 */
export function addRingChunk(ring: readonly RingChunk[], chunk: RingChunk): readonly RingChunk[] {
  if (ring.some((old) => sameChunk(old, chunk))) return ring;
  const kept = ring.filter((old) => jaccardSimilarity(old.lines, chunk.lines) <= RING_LIMITS.duplicateSimilarity);
  return [...kept, chunk].slice(-RING_LIMITS.maxChunks);
}

/**
 * The chunks to send with a request: those of the same language family as the document (a Python snippet is noise in
 * a TypeScript prompt, and small models copy its style), and not more than 0.5 similar to the cursor context, since
 * the model would copy them (llama.vim).
 */
export function ringChunksForRequest(ring: readonly RingChunk[], context: CursorContext): readonly RingChunk[] {
  const contextSet = lineSet([...context.prefixLines, context.linePrefix + context.lineSuffix, ...context.suffixLines]);
  const family = languageFamily(context.languageId);
  return ring.filter((chunk) => languageFamily(chunk.languageId) === family
    && jaccard(lineSet(chunk.lines), contextSet) <= RING_LIMITS.contextSimilarity);
}

/** Languages that share code and idioms count as one (TypeScript and JavaScript, with or without JSX). */
function languageFamily(languageId: string): string {
  return /^(typescript|javascript)(react)?$/.test(languageId) ? 'js' : languageId;
}

/**
 * Jaccard similarity of the sets of trimmed non-blank lines: |A ∩ B| / |A ∪ B|. Trimming makes re-indented copies
 * count as the same code; blank lines would make every pair look alike. Two empty sets are identical (1).
 */
export function jaccardSimilarity(a: readonly string[], b: readonly string[]): number {
  return jaccard(lineSet(a), lineSet(b));
}

function jaccard(setA: ReadonlySet<string>, setB: ReadonlySet<string>): number {
  if (setA.size === 0 && setB.size === 0) return 1;
  let common = 0;
  for (const line of setA) if (setB.has(line)) common++;
  return common / (setA.size + setB.size - common);
}

function chunkOf(path: string, languageId: string, lines: readonly string[]): RingChunk | null {
  const nonBlank = lines.filter((line) => line.trim() !== '').length;
  return nonBlank < RING_LIMITS.minNonBlankLines ? null : { path, languageId, lines };
}

function sameChunk(a: RingChunk, b: RingChunk): boolean {
  return a.path === b.path && a.lines.length === b.lines.length && a.lines.every((line, i) => line === b.lines[i]);
}

function lineSet(lines: readonly string[]): Set<string> {
  const set = new Set<string>();
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed !== '') set.add(trimmed);
  }
  return set;
}

