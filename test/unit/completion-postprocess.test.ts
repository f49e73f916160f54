// Post-processing parts (src/completion/postprocess/): rule order, context record, helpers.
// The rules' behaviour is held by the golden cases (postprocess-golden.test.ts); these cover what they cannot show.
// Run: npx tsc --noEmit -p . && node esbuild.mjs --tests && node --test out/test/unit/completion-postprocess.test.js
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildCursorContext } from '../../src/completion/context';
import { editDistance, isNearDuplicate } from '../../src/completion/postprocess/edit-distance';
import { POSTPROCESS_RULES, postprocess, postprocessContext, tracePostprocess } from '../../src/completion/postprocess';
import { detectIndentUnit, indentWidth } from '../../src/completion/postprocess/indentation';

describe('pipeline', () => {
  test('holds the nine rules of completion.md §6 in order', () => {
    assert.deepEqual(
      POSTPROCESS_RULES.map((rule) => rule.name),
      ['stop-and-special', 'single-line', 'stop-at-suffix', 'discard', 'repetition', 'indentation-scope', 'brackets', 'trim', 'max-lines'],
    );
  });

  test('the trace stops at the first discard', () => {
    const context = buildCursorContext({ text: 'x = 1\n', languageId: 'python', uri: 'u' }, { line: 1, character: 0 });
    const ctx = postprocessContext(context, { multiline: true, maxLines: 8 });
    const trace = tracePostprocess('   ', ctx);
    assert.deepEqual(trace.map((entry) => entry.rule), ['stop-and-special', 'single-line', 'stop-at-suffix', 'discard']);
    assert.equal(trace[trace.length - 1]!.output, null);
    assert.equal(postprocess('   ', ctx), null);
  });

  test('the context carries the context, the detected indentation and the Qwen tokens', () => {
    const text = 'def f():\n  if x:\n    pass\n  return 1\n';
    const context = buildCursorContext({ text, languageId: 'python', uri: 'u' }, { line: 2, character: 2 });
    const ctx = postprocessContext(context, { multiline: false, maxLines: 0 });
    assert.equal(ctx.prefix, 'def f():\n  if x:\n  ');
    assert.equal(ctx.suffix, '  pass\n  return 1\n');
    assert.deepEqual([ctx.linePrefix, ctx.lineSuffix, ctx.indentUnit, ctx.maxLines], ['  ', '  pass', '  ', 1]);
    assert.ok(ctx.stopStrings.includes('<|endoftext|>'));
    assert.equal(postprocessContext(context, { multiline: false, maxLines: 8, indentUnit: '\t' }).indentUnit, '\t');
  });
});

describe('helpers', () => {
  test('indentation unit: tabs, the most common increase, 4 spaces by default', () => {
    assert.equal(detectIndentUnit(['a', '\tb', '\t\tc']), '\t');
    assert.equal(detectIndentUnit(['a', '  b', '    c', '  d', '    e']), '  ');
    assert.equal(detectIndentUnit(['a', 'b']), '    ');
    assert.equal(indentWidth('\t  x'), 6);
  });

  test('edit distance and near-duplicates (strictly under 10 %)', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(isNearDuplicate('  return x', 'return x '), true);
    assert.equal(isNearDuplicate('print("a")', 'print("b")'), false);
    assert.equal(isNearDuplicate('const total = a + b + c + d;', 'const total = a + b + c + e;'), true);
  });
});
