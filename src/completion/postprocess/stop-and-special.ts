// Rule 1: cut at the first stop token; strip `<think>…</think>` and other special tokens (every anchor; Continue
// strips Qwen3 think tags). Line endings are normalised to '\n' first so every later rule splits on one character.
import type { PostprocessContext } from './context';

const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';

export function cutAtStop(completion: string, ctx: PostprocessContext): string {
  let text = completion.replace(/\r\n?/g, '\n');
  let end = text.length;
  for (const stop of ctx.stopStrings) {
    const at = stop === '' ? -1 : text.indexOf(stop);
    if (at >= 0 && at < end) end = at;
  }
  text = stripThinking(text.slice(0, end));
  for (const token of ctx.specialTokens) {
    if (token !== '') text = text.split(token).join('');
  }
  return text;
}

/**
 * Removes reasoning: closed `<think>…</think>` spans; everything up to a `</think>` whose opening tag was in the
 * prompt (a chat template that pre-opens thinking); everything after a `<think>` that never closes. The blank lines a
 * template puts after `</think>` go too, but the first code line keeps its indentation.
 */
function stripThinking(text: string): string {
  if (!text.includes(THINK_OPEN) && !text.includes(THINK_CLOSE)) return text;
  let out = text.replace(/<think>[\s\S]*?<\/think>/g, '');
  const close = out.lastIndexOf(THINK_CLOSE);
  if (close >= 0) out = out.slice(close + THINK_CLOSE.length);
  const open = out.indexOf(THINK_OPEN);
  if (open >= 0) out = out.slice(0, open);
  return out.replace(/^[ \t]*\n(?:[ \t]*\n)*/, '');
}
