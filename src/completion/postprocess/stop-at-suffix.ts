// Rule 3: stop where the completion reaches the code that already follows the cursor: the first non-empty suffix
// line (Continue's stream transforms stop at the suffix start). Only lines after the first are tested; a first line
// that re-creates the next line is a discard (rule 4), not a cut.
import type { PostprocessContext } from './context';
import { indentWidth, isBlank } from './indentation';

export function stopAtSuffix(completion: string, ctx: PostprocessContext): string {
  const lines = completion.split('\n');
  if (lines.length < 2) return completion;
  const matches = suffixStartMatcher(ctx);
  if (matches === null) return completion;
  for (let i = 1; i < lines.length; i++) {
    if (matches(lines[i]!)) return lines.slice(0, i).join('\n');
  }
  return completion;
}

/**
 * The rest of the cursor line when it holds text (a multi-line completion inside `foo(|)` must stop before its own
 * `)`): compared trimmed, but only against lines not indented deeper than the cursor line, since a deeper `)` closes
 * something the completion opened. Otherwise the first non-blank line below, compared with its indentation, so an
 * inner `}` never matches the enclosing scope's `}`.
 */
function suffixStartMatcher(ctx: PostprocessContext): ((line: string) => boolean) | null {
  const rest = ctx.lineSuffix.trim();
  if (rest !== '') {
    const cursorIndent = indentWidth(ctx.linePrefix);
    return (line) => line.trim() === rest && indentWidth(line) <= cursorIndent;
  }
  const next = ctx.linesBelow.find((line) => !isBlank(line));
  if (next === undefined) return null;
  const target = next.trimEnd();
  return (line) => line.trimEnd() === target;
}
