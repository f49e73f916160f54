// A replayable edit trace over a real source file: the body of a function is removed, then typed back
// character by character, with the cursor moving away and back between lines and a few characters deleted
// and retyped. Each step is the document and cursor right after one keystroke. Deterministic for a file.
import type { CursorPosition } from '../protocol/request';

export type EditKind = 'type' | 'newline' | 'delete' | 'move';

export interface EditStep {
  readonly kind: EditKind;
  readonly text: string;
  readonly cursor: CursorPosition;
}

export interface TraceOptions {
  readonly maxSteps: number;        // stop after this many keystrokes
  readonly deleteEvery: number;     // every N typed lines: delete the last 3 characters and retype them
  readonly moveEvery: number;       // every N typed lines: move up 2 lines and back
}

export const DEFAULT_TRACE_OPTIONS: TraceOptions = { maxSteps: 600, deleteEvery: 3, moveEvery: 4 };

/**
 * Picks the body to retype: the longest run of indented lines after a line ending in `{` or `:` within the
 * middle of the file (at least 4 lines), so that there is real context above and below it.
 */
export function pickBody(lines: readonly string[]): { start: number; end: number } {
  let best = { start: Math.floor(lines.length / 2), end: Math.min(lines.length, Math.floor(lines.length / 2) + 8) };
  for (let i = 1; i < lines.length - 1; i++) {
    if (!/[{:]\s*$/.test(lines[i - 1])) continue;
    const base = indentOf(lines[i - 1]);
    let j = i;
    while (j < lines.length && (lines[j].trim() === '' || indentOf(lines[j]) > base)) j++;
    if (j - i >= 4 && j - i <= 40 && j - i > best.end - best.start && i > lines.length * 0.2) best = { start: i, end: j };
  }
  return best;
}

export function buildTrace(source: string, options: TraceOptions = DEFAULT_TRACE_OPTIONS): EditStep[] {
  const lines = source.split('\n');
  const body = pickBody(lines);
  const target = lines.slice(body.start, body.end);
  const doc = [...lines.slice(0, body.start), '', ...lines.slice(body.end)];
  const steps: EditStep[] = [];
  let row = body.start;
  const push = (kind: EditKind, cursor: CursorPosition) => steps.push({ kind, text: doc.join('\n'), cursor });
  for (let t = 0; t < target.length && steps.length < options.maxSteps; t++) {
    if (t > 0) {
      doc.splice(row + 1, 0, '');
      row++;
      push('newline', { line: row, character: 0 });
    }
    const line = target[t];
    for (let c = 0; c < line.length && steps.length < options.maxSteps; c++) {
      doc[row] = line.slice(0, c + 1);
      push('type', { line: row, character: c + 1 });
    }
    if (t % options.deleteEvery === options.deleteEvery - 1 && line.length > 3) {
      for (let k = 1; k <= 3; k++) { doc[row] = line.slice(0, line.length - k); push('delete', { line: row, character: line.length - k }); }
      for (let k = 2; k >= 0; k--) { doc[row] = line.slice(0, line.length - k); push('type', { line: row, character: line.length - k }); }
    }
    if (t % options.moveEvery === options.moveEvery - 1 && row >= 2) {
      push('move', { line: row - 2, character: doc[row - 2].length });
      push('move', { line: row, character: doc[row].length });
    }
  }
  return steps.slice(0, options.maxSteps);
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}
