// Rule 4: drop completions that add nothing (llama.vscode `shouldDiscardSuggestion`; Continue `rewritesLineAbove`):
// empty or whitespace; equal to the line suffix; lines equal to the document's next lines; a first line that
// re-creates the next non-empty line; a first line that nearly repeats the line above.
import type { PostprocessContext } from './context';
import { isNearDuplicate } from './edit-distance';
import { isBlank } from './indentation';

/** Lines shorter than this (trimmed) are too generic (`}`, `i++`, `pass`) to call a rewrite. */
const MIN_REWRITE_CHARS = 5;

export function discardUseless(completion: string, ctx: PostprocessContext): string | null {
  if (isBlank(completion)) return null;
  const lines = completion.split('\n');
  if (lines.length === 1 && completion.trim() === ctx.lineSuffix.trim()) return null;
  if (repeatsNextLines(lines, ctx)) return null;
  if (recreatesNextLine(lines, ctx)) return null;
  if (rewritesLineAbove(lines, ctx)) return null;
  return completion;
}

/** A first line that is blank or the line suffix, then exactly the lines that already follow. */
function repeatsNextLines(lines: readonly string[], ctx: PostprocessContext): boolean {
  if (lines.length < 2) return false;
  const first = lines[0]!.trim();
  if (first !== '' && first !== ctx.lineSuffix.trim()) return false;
  return lines.slice(1).every((line, i) => {
    const below = ctx.linesBelow[i];
    return below !== undefined && line.trimEnd() === below.trimEnd();
  });
}

/** The cursor line as the completion would leave it equals the next non-blank line (indentation included). */
function recreatesNextLine(lines: readonly string[], ctx: PostprocessContext): boolean {
  const next = ctx.linesBelow.find((line) => !isBlank(line));
  if (next === undefined) return false;
  const result = ctx.linePrefix + lines[0]! + (lines.length === 1 ? ctx.lineSuffix : '');
  return !isBlank(result) && result.trimEnd() === next.trimEnd();
}

/** The first line the completion writes nearly repeats the non-blank line before it. */
function rewritesLineAbove(lines: readonly string[], ctx: PostprocessContext): boolean {
  const above = [...ctx.linesAbove].reverse().find((line) => !isBlank(line));
  let written: string | undefined;
  let before: string | undefined;
  if (!isBlank(lines[0]!)) {
    written = ctx.linePrefix + lines[0]!;
    before = above;
  } else {
    written = lines.slice(1).find((line) => !isBlank(line));
    before = isBlank(ctx.linePrefix) ? above : ctx.linePrefix;
  }
  if (written === undefined || before === undefined) return false;
  if (written.trim().length < MIN_REWRITE_CHARS || before.trim().length < MIN_REWRITE_CHARS) return false;
  return isNearDuplicate(written, before);
}
