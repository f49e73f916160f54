// The post-processing pipeline (completion.md §6): an ordered list of small pure rules, each
// `(completion, ctx) => string | null` where null discards the completion. Order matters: cutting at stops and
// forcing a single line come before the discard tests; scope and bracket cuts come before the final trim.
// Golden cases in test/golden/postprocess/*.json hold the whole list to its behaviour.
import { matchBrackets } from './brackets';
import type { PostprocessContext } from './context';
import { discardUseless } from './discard';
import { limitScopeByIndentation } from './indentation-scope';
import { capLines } from './max-lines';
import { cutRepetition } from './repetition';
import { keepFirstLine } from './single-line';
import { cutAtStop } from './stop-and-special';
import { stopAtSuffix } from './stop-at-suffix';
import { trimWhitespace } from './trim';

export type PostprocessRule = (completion: string, ctx: PostprocessContext) => string | null;

export interface NamedRule {
  readonly name: string;
  readonly apply: PostprocessRule;
}

export const POSTPROCESS_RULES: readonly NamedRule[] = [
  { name: 'stop-and-special', apply: cutAtStop },
  { name: 'single-line', apply: keepFirstLine },
  { name: 'stop-at-suffix', apply: stopAtSuffix },
  { name: 'discard', apply: discardUseless },
  { name: 'repetition', apply: cutRepetition },
  { name: 'indentation-scope', apply: limitScopeByIndentation },
  { name: 'brackets', apply: matchBrackets },
  { name: 'trim', apply: trimWhitespace },
  { name: 'max-lines', apply: capLines },
];

/** The text to show, or null when a rule discarded the completion. */
export function postprocess(raw: string, ctx: PostprocessContext): string | null {
  let text: string | null = raw;
  for (const rule of POSTPROCESS_RULES) {
    text = rule.apply(text, ctx);
    if (text === null) return null;
  }
  return text;
}

export interface PostprocessTraceEntry {
  readonly rule: string;
  readonly output: string | null;
}

/** Every rule's output in order, up to the first discard: for "Copy debug info" and golden-test failures. */
export function tracePostprocess(raw: string, ctx: PostprocessContext): readonly PostprocessTraceEntry[] {
  const trace: PostprocessTraceEntry[] = [];
  let text: string | null = raw;
  for (const rule of POSTPROCESS_RULES) {
    text = rule.apply(text, ctx);
    trace.push({ rule: rule.name, output: text });
    if (text === null) break;
  }
  return trace;
}

export { postprocessContext, QWEN_SPECIAL_TOKENS, QWEN_STOP_STRINGS } from './context';
export type { PostprocessContext, PostprocessOptions } from './context';
