// Rule 9: cap the number of lines (twinny caps at 40; ours is `completion.maxLines`, 8 by default).
import type { PostprocessContext } from './context';

export function capLines(completion: string, ctx: PostprocessContext): string {
  const lines = completion.split('\n');
  return lines.length <= ctx.maxLines ? completion : lines.slice(0, ctx.maxLines).join('\n').trimEnd();
}
