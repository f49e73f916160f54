// Document → the context a completion request sees: prefix lines above the cursor line, the cursor line split at
// the cursor, and suffix lines below it. Plain records in and out; the extension copies the editor state into a
// DocumentSnapshot, so nothing here knows about vscode.
//
// Why lines and not characters: every cut (context lines, token budget, cache key) is made at line boundaries, so typing on
// the cursor line never moves a cut and the prompt head stays byte-identical (completion.md §2.1).

import type { ContextLimits, CursorContext, CursorPosition } from '../protocol/request';

export interface DocumentSnapshot {
  readonly text: string;
  readonly languageId: string;
  readonly uri: string;
}

/** Settings `completion.prefixLines` / `suffixLines`. */
export const DEFAULT_CONTEXT_LIMITS: ContextLimits = { prefixLines: 128, suffixLines: 16 };

/**
 * Cuts the context around the cursor. The cursor is clamped into the document (VS Code positions are always valid,
 * but a stale snapshot may not be). Lines are found by scanning for '\n' between the first and the last needed
 * line only, so a large file costs O(characters up to the context's last line), not a full split. A trailing '\r' (CRLF files)
 * is dropped from each line, as TextLine.text does.
 */
export function buildCursorContext(
  doc: DocumentSnapshot,
  cursor: CursorPosition,
  limits: ContextLimits = DEFAULT_CONTEXT_LIMITS,
): CursorContext {
  const wanted = readLines(doc.text, Math.max(0, cursor.line - limits.prefixLines), cursor.line + limits.suffixLines + 1);
  const cursorIndex = Math.max(0, Math.min(cursor.line - wanted.first, wanted.lines.length - 1));
  const cursorLine = wanted.lines[cursorIndex] ?? '';
  const line = wanted.first + cursorIndex;
  const character = Math.max(0, Math.min(cursor.character, cursorLine.length));
  const suffixLines = wanted.lines.slice(cursorIndex + 1);
  return {
    uri: doc.uri,
    languageId: doc.languageId,
    prefixLines: wanted.lines.slice(0, cursorIndex),
    linePrefix: cursorLine.slice(0, character),
    lineSuffix: cursorLine.slice(character),
    suffixLines,
    cursor: { line, character },
    firstLine: wanted.first,
    reachesDocumentEnd: wanted.reachedEnd,
    limits,
  };
}

/**
 * The context after `text` is typed at the cursor (or a suggestion is inserted there), computed without the document: lines that end
 * inside `text` join the prefix, which is capped from the top exactly as buildCursorContext would cap it. Suffix lines do
 * not change, because nothing below the cursor moves relative to the cursor line. Used for forwarding entries and
 * the prefetch key (completion.md §4.3); a test holds it equal to buildCursorContext on the edited document.
 */
export function insertAtCursor(context: CursorContext, text: string): CursorContext {
  const parts = text.split('\n');
  if (parts.length === 1) {
    return {
      ...context,
      linePrefix: context.linePrefix + text,
      cursor: { line: context.cursor.line, character: context.cursor.character + text.length },
    };
  }
  const completed = [context.linePrefix + parts[0], ...parts.slice(1, -1)];
  const grown = [...context.prefixLines, ...completed];
  const drop = Math.max(0, grown.length - context.limits.prefixLines);
  const linePrefix = parts[parts.length - 1] ?? '';
  const line = context.cursor.line + parts.length - 1;
  return {
    ...context,
    prefixLines: grown.slice(drop),
    linePrefix,
    cursor: { line, character: linePrefix.length },
    firstLine: context.firstLine + drop,
  };
}

/** Prefix lines and the cursor line left of the cursor, joined as in the document. */
export function textBeforeCursor(context: CursorContext): string {
  return context.prefixLines.length === 0
    ? context.linePrefix
    : `${context.prefixLines.join('\n')}\n${context.linePrefix}`;
}

/** The cursor line right of the cursor and the suffix lines, joined as in the document. */
export function textAfterCursor(context: CursorContext): string {
  return context.suffixLines.length === 0
    ? context.lineSuffix
    : `${context.lineSuffix}\n${context.suffixLines.join('\n')}`;
}

interface LineRange {
  readonly lines: readonly string[];
  /** Document line of lines[0]. */
  readonly first: number;
  readonly reachedEnd: boolean;
}

/** Lines [from, to) of `text`; fewer when the document is shorter. Always at least one line (maybe ''). */
function readLines(text: string, from: number, to: number): LineRange {
  let start = 0;
  let line = 0;
  while (line < from) {
    const next = text.indexOf('\n', start);
    if (next < 0) break;
    start = next + 1;
    line++;
  }
  if (line < from) {
    // The cursor is past the last line: keep the last line only.
    return { lines: [stripCr(text.slice(start))], first: line, reachedEnd: true };
  }
  const lines: string[] = [];
  while (line < to) {
    const next = text.indexOf('\n', start);
    if (next < 0) {
      lines.push(stripCr(text.slice(start)));
      return { lines, first: from, reachedEnd: true };
    }
    lines.push(stripCr(text.slice(start, next)));
    start = next + 1;
    line++;
  }
  return { lines, first: from, reachedEnd: false };
}

/** A line without the '\r' of a CRLF file. */
export function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
