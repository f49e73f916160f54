// Rule 2: mid-line (real text right of the cursor) or a single-line request keeps only the first line; a trailing
// copy of the line suffix is stripped (llama.vscode `updateSuggestion`). The copy is stripped only when the
// completion's own brackets and quotes show it really closes what the suffix already closes: in `foo(|)` the raw
// `bar())` loses one `)`, but `bar()` keeps its own.
import { isMidLine } from '../line-shape';
import type { PostprocessContext } from './context';

const CLOSER_OF: Readonly<Record<string, string>> = { ')': '(', ']': '[', '}': '{' };
const QUOTES = new Set(['"', "'", '`']);

export function keepFirstLine(completion: string, ctx: PostprocessContext): string {
  const newline = completion.indexOf('\n');
  const singleLine = !ctx.multiline || isMidLine(ctx.lineSuffix);
  const text = singleLine && newline >= 0 ? completion.slice(0, newline) : completion;
  return ctx.lineSuffix.trim() === '' ? text : stripSuffixCopy(text, ctx.lineSuffix.trim());
}

/**
 * Strips the longest start of `suffix` that `text` ends with, when that piece is a genuine duplicate: the whole
 * suffix when it holds ordinary text, or any leading run of closing characters the completion leaves unmatched.
 */
function stripSuffixCopy(text: string, suffix: string): string {
  const body = text.trimEnd();
  for (let length = suffix.length; length >= 1; length--) {
    const piece = suffix.slice(0, length);
    if (!body.endsWith(piece)) continue;
    const rest = body.slice(0, body.length - length);
    if (isClosingRun(piece) ? closesUnmatched(rest, piece) : length === suffix.length) return rest;
  }
  return text;
}

function isClosingRun(piece: string): boolean {
  return [...piece].every((ch) => ch in CLOSER_OF || QUOTES.has(ch) || ch === ';' || ch === ',' || ch === ' ');
}

/**
 * True when every closer and quote in `piece` closes something opened outside the completion, so the line suffix
 * already supplies it: a closer must not match a bracket `rest` left open, and a quote must not end a string `rest`
 * opened (an odd count). `;`, `,` and spaces are plain copies.
 */
function closesUnmatched(rest: string, piece: string): boolean {
  const stack: string[] = [];
  const quoteCounts = new Map<string, number>();
  for (const ch of rest) {
    if (ch === '(' || ch === '[' || ch === '{') stack.push(ch);
    else if (ch in CLOSER_OF && stack[stack.length - 1] === CLOSER_OF[ch]) stack.pop();
    else if (QUOTES.has(ch)) quoteCounts.set(ch, (quoteCounts.get(ch) ?? 0) + 1);
  }
  for (const ch of piece) {
    if (ch in CLOSER_OF && stack.length > 0) return false;
    if (QUOTES.has(ch)) {
      const count = quoteCounts.get(ch) ?? 0;
      if (count % 2 === 1) return false;
      quoteCounts.set(ch, count + 1);
    }
  }
  return true;
}
