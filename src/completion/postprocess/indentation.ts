// Indentation measures shared by the post-processing rules (scope, discard, brackets) and the context builder.

/** Columns a tab advances; only the order of widths matters to the rules, so a fixed width is enough. */
const TAB_COLUMNS = 4;

export function isBlank(line: string): boolean {
  return line.trim() === '';
}

/** Width in columns of the leading whitespace. */
export function indentWidth(line: string): number {
  let width = 0;
  for (const ch of line) {
    if (ch === ' ') width += 1;
    else if (ch === '\t') width += TAB_COLUMNS;
    else break;
  }
  return width;
}

/**
 * The document's indentation unit: a tab when most indented lines start with one, otherwise the most common
 * positive increase between consecutive non-blank lines (2 or 4 spaces in practice). Four spaces when nothing is
 * indented. The extension passes the editor's own setting instead when it has one.
 */
export function detectIndentUnit(lines: readonly string[]): string {
  let tabs = 0;
  let spaces = 0;
  const increases = new Map<number, number>();
  let previous = -1;
  for (const line of lines) {
    if (isBlank(line)) continue;
    if (line.startsWith('\t')) tabs++;
    else if (line.startsWith(' ')) spaces++;
    const width = indentWidth(line);
    if (previous >= 0 && width > previous) increases.set(width - previous, (increases.get(width - previous) ?? 0) + 1);
    previous = width;
  }
  if (tabs > spaces) return '\t';
  let best = 4;
  let bestCount = 0;
  for (const [increase, count] of increases) {
    if (count > bestCount || (count === bestCount && increase < best)) {
      best = increase;
      bestCount = count;
    }
  }
  return ' '.repeat(best);
}
