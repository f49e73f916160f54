// Rule 5: repetition. A model stuck in a loop fills its token budget with the same line or paragraph, or ends a line
// with one token repeated. Discard extreme repetition (Continue `isExtremeRepetition`); otherwise cut a repeated
// tail of lines or paragraphs (split at blank lines) back to its first copy, and drop a last line that ends in a repeated run (Tabby
// `removeRepetitiveLines`, `removeRepetitiveBlocks`, `removeLineEndsWithRepetition`).
import type { PostprocessContext } from './context';
import { isNearDuplicate } from './edit-distance';
import { isBlank } from './indentation';

/** Continue: at least 6 lines, of which 80 % repeat with a period of 1–3 lines. */
const EXTREME_MIN_LINES = 6;
const EXTREME_SHARE = 0.8;
/** Near-identical neighbours needed to cut a tail (the last piece, maybe cut off, not counted): 3 for lines, 2 for paragraphs. */
const LINE_REPEATS = 3;
const PARAGRAPH_REPEATS = 2;
/** Tabby: a unit of ≥ 3 characters repeated 6+ times, or of ≥ 10 characters repeated 4+ times, ends the line. */
const LINE_END_REPETITION = [/(.{3,}?)\1{5,}$/, /(.{10,}?)\1{3,}$/];

export function cutRepetition(completion: string, _ctx: PostprocessContext): string | null {
  if (isExtremeRepetition(completion.split('\n'))) return null;
  const cut = cutRepeatedTail(cutRepeatedTail(completion, '\n', LINE_REPEATS), /\n[ \t]*\n/, PARAGRAPH_REPEATS);
  const lines = cut.split('\n');
  const last = lines[lines.length - 1]!;
  if (!LINE_END_REPETITION.some((pattern) => pattern.test(last.trimEnd()))) return cut;
  const kept = lines.slice(0, -1).join('\n').trimEnd();
  return kept === '' ? null : kept;
}

function isExtremeRepetition(lines: readonly string[]): boolean {
  if (lines.length < EXTREME_MIN_LINES) return false;
  for (let period = 1; period <= 3; period++) {
    let repeats = 0;
    for (let i = 0; i + period < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line !== '' && line === lines[i + period]!.trim()) repeats++;
    }
    if (repeats >= EXTREME_SHARE * (lines.length - period)) return true;
  }
  return false;
}

/**
 * Walks back from the second-to-last piece (the last may be cut off mid-way) while each non-blank piece nearly
 * equals the one before it. With enough repeats, keeps everything up to the first copy of the run.
 */
function cutRepeatedTail(text: string, separator: string | RegExp, minRepeats: number): string {
  const pieces = text.split(separator);
  let index = pieces.length - 2;
  let repeats = 0;
  while (index >= 1) {
    if (isBlank(pieces[index]!)) {
      index--;
      continue;
    }
    let previous = index - 1;
    while (previous >= 0 && isBlank(pieces[previous]!)) previous--;
    if (previous < 0 || !isNearDuplicate(pieces[index]!, pieces[previous]!)) break;
    repeats++;
    index = previous;
  }
  if (repeats < minRepeats) return text;
  return joinPieces(text, separator, index + 1).trimEnd();
}

/** The first `count` pieces of `text` with their original separators. */
function joinPieces(text: string, separator: string | RegExp, count: number): string {
  const pattern = typeof separator === 'string' ? new RegExp(escape(separator), 'g') : new RegExp(separator, 'g');
  let end = text.length;
  let seen = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    seen++;
    if (seen === count) {
      end = match.index;
      break;
    }
  }
  return text.slice(0, end);
}

function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
