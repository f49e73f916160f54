// Rule 8: trim trailing whitespace, then require at least 2 non-space characters (Tabby `trimSpace`, `dropMinimum`
// with 4; ours is 2 so `])` or `x;` still complete a line).
import type { PostprocessContext } from './context';

const MIN_NON_SPACE_CHARS = 2;

export function trimWhitespace(completion: string, ctx: PostprocessContext): string | null {
  let text = completion
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trimEnd();
  // A space that separates the completion from a word right of the cursor (`return |x` + `-1 + `) is kept.
  const trailing = completion.slice(completion.trimEnd().length);
  if (/^\w/.test(ctx.lineSuffix) && !text.includes('\n') && trailing.startsWith(' ') && !trailing.includes('\n')) {
    text += ' ';
  }
  // No double space after the cursor: `x = |` + ` 5` → `5`. Indentation-only line prefixes are left alone.
  if (ctx.linePrefix.endsWith(' ') && ctx.linePrefix.trim() !== '') text = text.replace(/^ +/, '');
  const nonSpace = text.replace(/\s/g, '').length;
  return nonSpace < MIN_NON_SPACE_CHARS ? null : text;
}
