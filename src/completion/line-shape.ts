// What sits around the cursor on its line. The trigger (gating, multi-line decision) and post-processing (mid-line
// rule) must agree on these character classes, so they live in one place.

/** Characters an editor auto-closes or that end a statement: the rest of a line made only of these is "line end". */
const CLOSING = new Set([')', ']', '}', '>', '"', "'", '`', ';', ',']);

/**
 * Copilot's mid-line rule also lets a completion start when only `:` or `{` follow (e.g. `if (x|) {`), so gating
 * lets those through on top of the closing characters.
 */
const GATING_EXTRA = new Set([':', '{']);

/** True when `rest` holds only whitespace and closing characters (brackets, quotes, `;` `,`). */
export function isOnlyClosing(rest: string): boolean {
  for (const ch of rest) {
    if (!CLOSING.has(ch) && !isSpace(ch)) return false;
  }
  return true;
}

/** True when `rest` holds only whitespace, closing characters, `:` and `{`: what gating lets through. */
export function isOnlyClosingOrOpener(rest: string): boolean {
  for (const ch of rest) {
    if (!CLOSING.has(ch) && !GATING_EXTRA.has(ch) && !isSpace(ch)) return false;
  }
  return true;
}

/** True when the text left of the cursor ends with a scope opener: `{ ( [ :` or `=>` (trailing whitespace ignored). */
export function endsWithScopeOpener(linePrefix: string): boolean {
  const trimmed = linePrefix.trimEnd();
  if (trimmed.endsWith('=>')) return true;
  const last = trimmed.charAt(trimmed.length - 1);
  return last === '{' || last === '(' || last === '[' || last === ':';
}

/**
 * Mid-line: real text (not only closing characters) sits right of the cursor. A multi-line completion there would
 * push that text to the end of its last line, so post-processing keeps the first line only.
 */
export function isMidLine(lineSuffix: string): boolean {
  return !isOnlyClosing(lineSuffix);
}

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t';
}
