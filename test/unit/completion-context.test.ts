// Context context and ring chunks (src/completion/context.ts, ring-chunks.ts).
// Run: npx tsc --noEmit -p . && node esbuild.mjs --tests && node --test out/test/unit/completion-context.test.js
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildCursorContext,
  insertAtCursor,
  textAfterCursor,
  textBeforeCursor,
  type DocumentSnapshot,
} from '../../src/completion/context';
import {
  addRingChunk,
  chunkAroundLine,
  chunkFromText,
  isCursorJump,
  jaccardSimilarity,
  ringChunksForRequest,
  RING_LIMITS,
} from '../../src/completion/ring-chunks';
import type { RingChunk } from '../../src/protocol/request';

const doc = (text: string): DocumentSnapshot => ({ text, languageId: 'typescript', uri: 'file:///a.ts' });
const numbered = (count: number): string => Array.from({ length: count }, (_, i) => `line ${i}`).join('\n');

describe('buildCursorContext', () => {
  test('splits the cursor line and keeps the lines around it', () => {
    const w = buildCursorContext(doc('a\nbc|de\nf\ng'), { line: 1, character: 2 });
    assert.deepEqual(w.prefixLines, ['a']);
    assert.equal(w.linePrefix, 'bc');
    assert.equal(w.lineSuffix, '|de');
    assert.deepEqual(w.suffixLines, ['f', 'g']);
    assert.equal(w.firstLine, 0);
    assert.equal(w.reachesDocumentEnd, true);
    assert.equal(textBeforeCursor(w), 'a\nbc');
    assert.equal(textAfterCursor(w), '|de\nf\ng');
  });

  test('caps the prefix from the top and the suffix from the bottom', () => {
    const w = buildCursorContext(doc(numbered(100)), { line: 50, character: 4 }, { prefixLines: 3, suffixLines: 2 });
    assert.deepEqual(w.prefixLines, ['line 47', 'line 48', 'line 49']);
    assert.equal(w.linePrefix, 'line');
    assert.equal(w.lineSuffix, ' 50');
    assert.deepEqual(w.suffixLines, ['line 51', 'line 52']);
    assert.equal(w.firstLine, 47);
    assert.equal(w.reachesDocumentEnd, false);
  });

  test('drops the \\r of CRLF lines', () => {
    const w = buildCursorContext(doc('one\r\ntwo\r\nthree'), { line: 1, character: 3 });
    assert.deepEqual(w.prefixLines, ['one']);
    assert.equal(w.linePrefix, 'two');
    assert.equal(w.lineSuffix, '');
    assert.deepEqual(w.suffixLines, ['three']);
  });

  test('clamps a cursor outside the document', () => {
    const past = buildCursorContext(doc('ab\ncd'), { line: 9, character: 99 });
    assert.deepEqual(past.cursor, { line: 1, character: 2 });
    assert.equal(past.linePrefix, 'cd');
    const far = buildCursorContext(doc('ab\ncd'), { line: 500, character: 1 }, { prefixLines: 3, suffixLines: 3 });
    assert.deepEqual(far.cursor, { line: 1, character: 1 });
    assert.equal(far.linePrefix, 'c');
  });

  test('an empty document has one empty line', () => {
    const w = buildCursorContext(doc(''), { line: 0, character: 0 });
    assert.deepEqual([w.prefixLines, w.linePrefix, w.lineSuffix, w.suffixLines], [[], '', '', []]);
  });
});

describe('insertAtCursor', () => {
  // Forwarding entries and prefetch keys rely on this matching what buildCursorContext sees after the edit.
  const cases: readonly [string, string, number, number, string][] = [
    ['same line', numbered(10), 5, 2, 'abc'],
    ['new lines, uncapped', numbered(6), 3, 4, 'x\n  y\nz'],
    ['new lines, prefix lines slide', numbered(40), 30, 3, 'foo()\n    bar'],
    ['at the top of the document', 'first\nsecond', 0, 0, 'a\nb\n'],
  ];
  for (const [name, text, line, character, inserted] of cases) {
    test(name, () => {
      const limits = { prefixLines: 5, suffixLines: 3 };
      const before = buildCursorContext(doc(text), { line, character }, limits);
      const lines = text.split('\n');
      const current = lines[line]!;
      lines[line] = current.slice(0, character) + inserted + current.slice(character);
      const edited = lines.join('\n');
      const insertedLines = inserted.split('\n');
      const cursor = {
        line: line + insertedLines.length - 1,
        character: (insertedLines.length === 1 ? character : 0) + insertedLines[insertedLines.length - 1]!.length,
      };
      assert.deepEqual(insertAtCursor(before, inserted), buildCursorContext(doc(edited), cursor, limits));
    });
  }
});

describe('ring chunks', () => {
  const chunk = (path: string, lines: readonly string[]): RingChunk => ({ path, languageId: 'typescript', lines });
  const body = (tag: string, count = 6): string[] => Array.from({ length: count }, (_, i) => `${tag} statement ${i};`);

  test('a jump is a move of more than 32 lines', () => {
    assert.equal(isCursorJump(10, 42), false);
    assert.equal(isCursorJump(10, 43), true);
    assert.equal(isCursorJump(100, 60), true);
  });

  test('chunkAroundLine takes at most 64 lines centred on the line, clamped to the document', () => {
    const big = doc(numbered(200));
    const middle = chunkAroundLine(big, 'a.ts', 100)!;
    assert.equal(middle.lines.length, RING_LIMITS.maxChunkLines);
    assert.equal(middle.lines[0], 'line 68');
    assert.equal(chunkAroundLine(big, 'a.ts', 2)!.lines[0], 'line 0');
    assert.equal(chunkAroundLine(big, 'a.ts', 199)!.lines[63], 'line 199');
  });

  test('tiny chunks are not worth a ring slot', () => {
    assert.equal(chunkFromText('a.ts', 'typescript', 'x = 1\n\ny = 2'), null);
    assert.notEqual(chunkFromText('a.ts', 'typescript', 'x = 1\ny = 2\nz = 3'), null);
    assert.equal(chunkFromText('a.ts', 'typescript', numbered(100))!.lines.length, 64);
  });

  test('jaccard similarity over trimmed non-blank lines', () => {
    assert.equal(jaccardSimilarity(['a', 'b'], ['  a', 'b', '']), 1);
    assert.equal(jaccardSimilarity(['a', 'b'], ['b', 'c']), 1 / 3);
    assert.equal(jaccardSimilarity([], []), 1);
    assert.equal(jaccardSimilarity(['a'], []), 0);
  });

  test('appends, skips exact duplicates, evicts near-duplicates, keeps at most 16', () => {
    let ring: readonly RingChunk[] = [];
    ring = addRingChunk(ring, chunk('a.ts', body('a')));
    ring = addRingChunk(ring, chunk('b.ts', body('b')));
    assert.deepEqual(ring.map((c) => c.path), ['a.ts', 'b.ts']);
    const same = addRingChunk(ring, chunk('a.ts', body('a')));
    assert.equal(same, ring, 'an identical chunk leaves the ring (and the prompt head) unchanged');
    const nearA = [...body('a', 20), 'a statement extra;'];
    const bigA = addRingChunk(addRingChunk([], chunk('a.ts', body('a', 20))), chunk('b.ts', body('b')));
    assert.deepEqual(addRingChunk(bigA, chunk('a2.ts', nearA)).map((c) => c.path), ['b.ts', 'a2.ts']);
    for (let i = 0; i < 20; i++) ring = addRingChunk(ring, chunk(`${i}.ts`, body(`c${i}`)));
    assert.equal(ring.length, RING_LIMITS.maxChunks);
    assert.equal(ring[ring.length - 1]!.path, '19.ts');
    assert.equal(ring[0]!.path, '4.ts');
  });

  test('request time drops chunks more than 0.5 similar to the cursor context', () => {
    const text = body('w', 10).join('\n');
    const context = buildCursorContext(doc(text), { line: 5, character: 0 });
    const copy = chunk('copy.ts', body('w', 10));
    const other = chunk('other.ts', body('o', 10));
    assert.deepEqual(ringChunksForRequest([copy, other], context).map((c) => c.path), ['other.ts']);
  });

  test('request time keeps only chunks of the document language family (TypeScript and JavaScript are one)', () => {
    const context = buildCursorContext(doc(body('w', 10).join('\n')), { line: 5, character: 0 });
    const of = (path: string, languageId: string) => ({ ...chunk(path, body(path, 10)), languageId });
    const ring = [of('a.py', 'python'), of('b.js', 'javascript'), of('c.tsx', 'typescriptreact'), of('d.ts', 'typescript')];
    assert.deepEqual(ringChunksForRequest(ring, context).map((c) => c.path), ['b.js', 'c.tsx', 'd.ts']);
  });
});
