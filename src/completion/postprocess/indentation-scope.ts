// Rule 6: limit the completion to the scope the cursor is in, by indentation (Tabby `limitScopeByIndentation.ts`).
// The first line decides the scope: continuing a line, opening a deeper scope, or starting a statement at the
// current depth. The completion stops at the first later line that dedents below that scope; a closing line there
// (`}`, `end`) is kept only when the code below does not already close the scope.
import type { PostprocessContext } from './context';
import { indentWidth, isBlank } from './indentation';

/** Languages whose scopes end by dedent alone: a dedented line there is the next statement, never a closer. */
const NO_CLOSING_LINES = new Set(['python', 'yaml', 'coffeescript', 'nim', 'pug', 'haml']);

interface Scope {
  /** Lines indented less than this leave the scope. */
  readonly minIndent: number;
  /** Whether the first line leaving the scope may be kept as the scope's closing line. */
  readonly allowClosingLine: boolean;
}

export function limitScopeByIndentation(completion: string, ctx: PostprocessContext): string {
  const lines = completion.split('\n');
  if (lines.length < 2) return completion;
  // Line 0 is measured as it will stand in the document, after the text left of the cursor.
  const measured = [ctx.linePrefix + lines[0]!, ...lines.slice(1)];
  const scope = scopeOf(lines, measured, ctx);
  if (scope === null) return completion;
  let index = 1;
  for (; index < lines.length; index++) {
    const line = lines[index]!;
    if (isBlank(line) || indentWidth(line) >= scope.minIndent) continue;
    // `} else {`, `elif x:`: closes a scope and opens the next one at the same depth; the scope goes on.
    if (isContinuation(line) && closesScope(measured, index) && opensScope(measured, index)) continue;
    if (scope.allowClosingLine) index++;
    break;
  }
  return index < lines.length ? lines.slice(0, index).join('\n').trimEnd() : completion;
}

function scopeOf(lines: readonly string[], measured: readonly string[], ctx: PostprocessContext): Scope | null {
  const reference = ctx.linePrefix.trim() !== '' ? ctx.linePrefix : lastNonBlank(ctx.linesAbove);
  const firstWritten = measured.findIndex((line, i) => !isBlank(i === 0 ? lines[0]! : line));
  if (reference === undefined || firstWritten < 0) return null;
  const prefixIndent = indentWidth(reference);
  const completionIndent = indentWidth(measured[firstWritten]!);
  const continuesLine = !isBlank(ctx.linePrefix) && !isBlank(lines[0]!);
  let minIndent: number;
  let allowClosingLine = !NO_CLOSING_LINES.has(ctx.languageId);
  if (continuesLine) {
    // Finishing a statement: its own continuation lines are deeper; a closer is allowed only if line 0 opens a scope.
    minIndent = prefixIndent + 1;
    allowClosingLine &&= opensScope(measured, 0);
  } else if (completionIndent > prefixIndent) {
    minIndent = prefixIndent + 1;
  } else {
    minIndent = prefixIndent;
  }
  const below = ctx.linesBelow.find((line) => !isBlank(line));
  if (below !== undefined) allowClosingLine &&= indentWidth(below) < minIndent;
  return { minIndent, allowClosingLine };
}

/**
 * A line that continues the statement of the scope it closes: it starts with a closer (`} else {`, `}).then(x => {`)
 * or a continuation keyword. Without this test a Python `def` after a method body would count, since it too
 * follows a deeper line and opens a scope.
 */
function isContinuation(line: string): boolean {
  return /^\s*(?:[)\]}]|(?:else|elif|except|finally|catch)\b)/.test(line);
}

/** The next non-blank line is indented deeper. */
function opensScope(lines: readonly string[], index: number): boolean {
  const next = lines.slice(index + 1).find((line) => !isBlank(line));
  return next !== undefined && indentWidth(next) > indentWidth(lines[index]!);
}

/** The previous non-blank line is indented deeper. */
function closesScope(lines: readonly string[], index: number): boolean {
  const previous = lastNonBlank(lines.slice(0, index));
  return previous !== undefined && indentWidth(previous) > indentWidth(lines[index]!);
}

function lastNonBlank(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) if (!isBlank(lines[i]!)) return lines[i];
  return undefined;
}
