// Token-budget cuts at line boundaries for build.ts. The prefix loses lines from the top (the lines near the cursor
// matter most and the cut point stays put while typing); the suffix loses lines from the bottom.
//
// Cost: one encode when the piece fits. Otherwise one encode per line to place the cut, then whole-piece encodes
// until the piece fits (per-line counts can differ from the whole-piece count by a few merges at line joins).
import type { PromptTokenizer } from './tokenizer';

export interface FittedPiece {
  readonly ids: readonly number[];
  readonly droppedLines: number;
}

/** Prefix piece: `lines` joined with '\n' plus a final '\n', keeping the longest tail that fits `budget`. */
export function fitTailLines(lines: readonly string[], tokenizer: PromptTokenizer, budget: number): FittedPiece {
  const text = (start: number): string => (start >= lines.length ? '' : `${lines.slice(start).join('\n')}\n`);
  const encode = (start: number): number[] => (start >= lines.length ? [] : tokenizer.encode(text(start)));
  const whole = encode(0);
  if (whole.length <= budget) return { ids: whole, droppedLines: 0 };

  let start = lines.length;
  let used = 0;
  while (start > 0) {
    const cost = tokenizer.encode(`${lines[start - 1]}\n`).length;
    if (used + cost > budget) break;
    used += cost;
    start--;
  }
  let ids = encode(start);
  while (ids.length > budget && start < lines.length) {
    start++;
    ids = encode(start);
  }
  return { ids, droppedLines: start };
}

/**
 * Suffix piece: `lineSuffix` then each of `lines` after a '\n', keeping the longest head that fits `budget`.
 * The rest of the cursor line is always kept; if it alone is over budget, its leading tokens are.
 */
export function fitHeadLines(
  lineSuffix: string,
  lines: readonly string[],
  tokenizer: PromptTokenizer,
  budget: number,
): FittedPiece {
  const encode = (end: number): number[] => {
    const text = lineSuffix + lines.slice(0, end).map((line) => `\n${line}`).join('');
    return text === '' ? [] : tokenizer.encode(text);
  };
  const whole = encode(lines.length);
  if (whole.length <= budget) return { ids: whole, droppedLines: 0 };

  let end = 0;
  let used = lineSuffix === '' ? 0 : tokenizer.encode(lineSuffix).length;
  while (end < lines.length) {
    const cost = tokenizer.encode(`\n${lines[end]}`).length;
    if (used + cost > budget) break;
    used += cost;
    end++;
  }
  let ids = encode(end);
  while (ids.length > budget && end > 0) {
    end--;
    ids = encode(end);
  }
  if (ids.length > budget) ids = ids.slice(0, budget);
  return { ids, droppedLines: lines.length - end };
}
