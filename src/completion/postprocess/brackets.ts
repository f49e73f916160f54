// Rule 7: brackets. The completion may close the pairs it opened itself, and brackets the document leaves open at
// the cursor; it stops before any other closer (Continue `BracketMatchingService.stopOnUnmatchedClosingBracket`,
// which also counts the closers already in the suffix). Then a last line that duplicates the scope-closing line
// already below the cursor is dropped (Tabby `removeDuplicatedBlockClosingLine`).
//
// Brackets inside string literals and line comments are skipped by a small per-line scanner; it is not a parser,
// so a context that starts inside a multi-line string can miscount, which only ever makes the rule more lenient.
import type { PostprocessContext } from './context';
import { indentWidth, isBlank } from './indentation';

const OPENER_OF: Readonly<Record<string, string>> = { ')': '(', ']': '[', '}': '{' };
const HASH_COMMENTS = new Set(['python', 'shellscript', 'ruby', 'perl', 'r', 'yaml', 'toml', 'makefile']);

interface Bracket {
  readonly ch: string;
  readonly at: number;
}

export function matchBrackets(completion: string, ctx: PostprocessContext): string {
  const cut = cutAtUnmatchedCloser(completion, ctx);
  return dropDuplicatedClosingLine(cut, ctx);
}

function cutAtUnmatchedCloser(completion: string, ctx: PostprocessContext): string {
  const open = openAtCursor(ctx);
  const found = brackets(completion, ctx.languageId);
  const own: string[] = [];
  // Openers that stand in for a document bracket the same line closed (`} else {`): the suffix's closer, which
  // used to close the old bracket, now closes this one, so the completion must not close it again.
  const standIns: string[] = [];
  for (let i = 0; i < found.length; i++) {
    const { ch, at } = found[i]!;
    const opener = OPENER_OF[ch];
    if (opener === undefined) {
      const standIn = standIns.indexOf(ch);
      if (standIn >= 0) standIns.splice(standIn, 1);
      else own.push(ch);
    } else if (own.length > 0) {
      if (own[own.length - 1] !== opener) return completion.slice(0, at).trimEnd();
      own.pop();
    } else if (open[open.length - 1] === opener) {
      open.pop();
    } else if (reopensOnSameLine(completion, found, i, opener)) {
      standIns.push(opener);
    } else {
      return completion.slice(0, at).trimEnd();
    }
  }
  return completion;
}

/** The line of found[index] opens `opener` again after it. */
function reopensOnSameLine(text: string, found: readonly Bracket[], index: number, opener: string): boolean {
  const lineEnd = text.indexOf('\n', found[index]!.at);
  const end = lineEnd < 0 ? text.length : lineEnd;
  return found.slice(index + 1).some((b) => b.at < end && b.ch === opener);
}

/**
 * Brackets opened before the cursor and not closed after it, innermost last. The suffix's closers are matched
 * against the prefix's open brackets from the innermost out; brackets the suffix opens and closes itself cancel.
 */
function openAtCursor(ctx: PostprocessContext): string[] {
  const open: string[] = [];
  for (const { ch } of brackets(ctx.prefix, ctx.languageId)) {
    const opener = OPENER_OF[ch];
    if (opener === undefined) open.push(ch);
    else if (open[open.length - 1] === opener) open.pop();
  }
  const suffixOwn: string[] = [];
  for (const { ch } of brackets(ctx.suffix, ctx.languageId)) {
    const opener = OPENER_OF[ch];
    if (opener === undefined) suffixOwn.push(ch);
    else if (suffixOwn.length > 0) {
      if (suffixOwn[suffixOwn.length - 1] === opener) suffixOwn.pop();
    } else if (open[open.length - 1] === opener) {
      open.pop();
    }
  }
  return open;
}

/** Brackets outside string literals and line comments. Quotes end at the line end, except backtick templates. */
function brackets(text: string, languageId: string): Bracket[] {
  const found: Bracket[] = [];
  const hashComments = HASH_COMMENTS.has(languageId);
  let quote = '';
  for (let at = 0; at < text.length; at++) {
    const ch = text[at]!;
    if (quote !== '') {
      if (ch === '\\') at++;
      else if (ch === quote) quote = '';
      else if (ch === '\n' && quote !== '`') quote = '';
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if ((ch === '/' && text[at + 1] === '/') || (ch === '#' && hashComments)) {
      const end = text.indexOf('\n', at);
      if (end < 0) break;
      at = end;
    } else if (ch === '(' || ch === '[' || ch === '{' || ch === ')' || ch === ']' || ch === '}') {
      found.push({ ch, at });
    }
  }
  return found;
}

/**
 * A last line that closes a scope (dedented below the line before it) and matches the first non-blank line below
 * the cursor, one being a start of the other (`}` vs `});`), is already in the document.
 */
function dropDuplicatedClosingLine(completion: string, ctx: PostprocessContext): string {
  const lines = completion.split('\n');
  if (lines.length < 2) return completion;
  const last = lines[lines.length - 1]!;
  const measured = [ctx.linePrefix + lines[0]!, ...lines.slice(1, -1)];
  const previous = measured.reverse().find((line) => !isBlank(line));
  if (isBlank(last) || previous === undefined || indentWidth(previous) <= indentWidth(last)) return completion;
  const below = ctx.linesBelow.find((line) => !isBlank(line));
  if (below === undefined) return completion;
  const a = last.trimEnd();
  const b = below.trimEnd();
  return a.startsWith(b) || b.startsWith(a) ? lines.slice(0, -1).join('\n').trimEnd() : completion;
}
