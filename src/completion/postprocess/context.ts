// The record every post-processing rule reads. Built once per result from the request's context context; the
// derived fields (line lists, indentation unit) are computed here so the rules stay one-liners to call.
import type { CursorContext } from '../../protocol/request';
import { textAfterCursor, textBeforeCursor } from '../context';
import { detectIndentUnit } from './indentation';

export interface PostprocessContext {
  /** Text before the cursor within the context: prefix lines, then the cursor line left of the cursor. */
  readonly prefix: string;
  /** Text after the cursor within the context: the cursor line right of the cursor, then the suffix lines. */
  readonly suffix: string;
  readonly linePrefix: string;
  readonly lineSuffix: string;
  /** Context lines above the cursor line, top first. */
  readonly linesAbove: readonly string[];
  /** Context lines below the cursor line, top first. */
  readonly linesBelow: readonly string[];
  /** One level of indentation: '\t' or N spaces. */
  readonly indentUnit: string;
  readonly languageId: string;
  /** The request's multi-line decision (trigger.ts isMultiline). */
  readonly multiline: boolean;
  /** `completion.maxLines`. */
  readonly maxLines: number;
  /** Text of the stop tokens: the completion ends at the first one. */
  readonly stopStrings: readonly string[];
  /** Text of other special tokens: removed wherever they appear. */
  readonly specialTokens: readonly string[];
}

/**
 * Qwen/SDAR stop tokens as text (models.md §2.2). The engine stops at stop ids already; these catch ids decoded to
 * text by a remote endpoint or a detokenizer that keeps specials. A FIM or file-separator token inside a completion
 * means the model has started another example, so it stops too.
 */
export const QWEN_STOP_STRINGS: readonly string[] = [
  '<|endoftext|>',
  '<|im_end|>',
  '<|fim_prefix|>',
  '<|fim_suffix|>',
  '<|fim_middle|>',
  '<|fim_pad|>',
  '<|repo_name|>',
  '<|file_sep|>',
];

/**
 * Other special tokens that must never reach the editor: the SDAR MASK token in both of its spellings, and the
 * embedded tiny pair's `<|mask|>`. The extension passes the loaded tokenizer's own list when it has one.
 */
export const QWEN_SPECIAL_TOKENS: readonly string[] = ['<|im_start|>', '<|MASK|>', '<MASK>', '<|mask|>'];

export interface PostprocessOptions {
  readonly multiline: boolean;
  readonly maxLines: number;
  /** The editor's indentation (insertSpaces/tabSize); detected from the context when absent. */
  readonly indentUnit?: string;
  readonly stopStrings?: readonly string[];
  readonly specialTokens?: readonly string[];
}

export function postprocessContext(context: CursorContext, options: PostprocessOptions): PostprocessContext {
  const cursorLine = context.linePrefix + context.lineSuffix;
  return {
    prefix: textBeforeCursor(context),
    suffix: textAfterCursor(context),
    linePrefix: context.linePrefix,
    lineSuffix: context.lineSuffix,
    linesAbove: context.prefixLines,
    linesBelow: context.suffixLines,
    indentUnit:
      options.indentUnit ?? detectIndentUnit([...context.prefixLines, cursorLine, ...context.suffixLines]),
    languageId: context.languageId,
    multiline: options.multiline,
    maxLines: Math.max(1, Math.floor(options.maxLines)),
    stopStrings: options.stopStrings ?? QWEN_STOP_STRINGS,
    specialTokens: options.specialTokens ?? QWEN_SPECIAL_TOKENS,
  };
}
