// Prompt building (src/prompt/build.ts, budget.ts) with a toy tokenizer: one id per UTF-16 code unit.
// Run: npx tsc --noEmit -p . && node esbuild.mjs --tests && node --test out/test/unit/completion-prompt.test.js
//
// Why the cache property tested here also holds for real BPE: the pieces are encoded separately and joined by
// special ids. A BPE tokenizer splits added/special tokens out before its pre-tokenizer and merges run, so no merge
// ever crosses <|fim_prefix|>, <|fim_suffix|> or <|fim_middle|>; the ids of each piece depend on that piece's text
// alone. Typing on the cursor line changes only the text after <|fim_middle|>, so only ids after it can change.
// The char-code tokenizer has the same "piece ids depend only on the piece" property, which is all the test needs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildCursorContext } from '../../src/completion/context';
import { buildPrompt, ringChunkText } from '../../src/prompt/build';
import { memoizeTokenizer, type PromptTokenizer } from '../../src/prompt/tokenizer';
import type { CursorContext, RingChunk } from '../../src/protocol/request';

const FIM = { prefix: 900001, suffix: 900002, middle: 900003 };
const charTokenizer: PromptTokenizer = {
  encode: (text) => Array.from({ length: text.length }, (_, i) => text.charCodeAt(i)),
  fim: FIM,
};
const noFimTokenizer: PromptTokenizer = { ...charTokenizer, fim: null };
const decode = (ids: readonly number[]): string => String.fromCharCode(...ids);

function contextAt(text: string, line: number, character: number): CursorContext {
  return buildCursorContext({ text, languageId: 'python', uri: 'file:///a.py' }, { line, character });
}

/** Index of the first differing id, or the shorter length when one is a prefix of the other. */
function firstDifference(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

const SOURCE = 'import os\n\ndef main():\n    path = os.getcwd()\n    print(path)\n\nmain()\n';

describe('layouts', () => {
  test('fim: <pre> prefix lines <suf> rest of line + suffix lines <mid> line left of cursor', () => {
    const prompt = buildPrompt(contextAt(SOURCE, 3, 11), [], charTokenizer);
    assert.equal(prompt.layout, 'fim');
    const ids = prompt.ids;
    const pre = ids.indexOf(FIM.prefix);
    const suf = ids.indexOf(FIM.suffix);
    const mid = ids.indexOf(FIM.middle);
    assert.deepEqual([pre, suf < mid, prompt.headLength], [0, true, mid + 1]);
    assert.equal(decode(ids.slice(pre + 1, suf)), 'import os\n\ndef main():\n');
    assert.equal(decode(ids.slice(suf + 1, mid)), 'os.getcwd()\n    print(path)\n\nmain()\n');
    assert.equal(decode(ids.slice(mid + 1)), '    path = ');
    assert.deepEqual(prompt.pieceLengths, { ring: 0, prefix: 23, suffix: 36, middle: 11 });
  });

  test('prefix-only when FIM is off or the tokenizer has no FIM ids', () => {
    const context = contextAt(SOURCE, 3, 11);
    for (const prompt of [
      buildPrompt(context, [], noFimTokenizer),
      buildPrompt(context, [], charTokenizer, { maxPromptTokens: 1024, layout: 'prefix' }),
    ]) {
      assert.equal(prompt.layout, 'prefix');
      assert.equal(decode(prompt.ids), 'import os\n\ndef main():\n    path = ');
      assert.equal(prompt.pieceLengths.suffix, 0);
      assert.equal(prompt.headLength, 'import os\n\ndef main():\n'.length);
    }
  });

  test('ring chunks come first, oldest first, each with a path comment', () => {
    const ring: RingChunk[] = [
      { path: 'util.py', languageId: 'python', lines: ['def helper():', '    return 1', '# end'] },
      { path: 'lib.ts', languageId: 'typescript', lines: ['export const x = 1;', 'export const y = 2;', '//'] },
    ];
    const prompt = buildPrompt(contextAt(SOURCE, 3, 11), ring, charTokenizer);
    const head = decode(prompt.ids.slice(0, prompt.pieceLengths.ring));
    assert.equal(head, `${ringChunkText(ring[0]!)}${ringChunkText(ring[1]!)}`);
    assert.ok(head.startsWith('# Path: util.py\ndef helper():'));
    assert.ok(head.includes('// Path: lib.ts\n'));
    assert.equal(prompt.ids[prompt.pieceLengths.ring], FIM.prefix);
  });
});

describe('cache property', () => {
  const longFile = Array.from({ length: 300 }, (_, i) => `    value_${i} = compute(${i}, scale=${i % 7})`).join('\n');

  test('typing at the end of a line changes only ids after <|fim_middle|>', () => {
    const lines = longFile.split('\n');
    const line = 150;
    const ring: RingChunk[] = [{ path: 'b.py', languageId: 'python', lines: ['def other():', '    pass', 'x = 1'] }];
    let previous: ReturnType<typeof buildPrompt> | null = null;
    // Type 40 characters one at a time; the budget cuts prefix and suffix (300 lines ≫ 1024 char-tokens).
    for (let typed = 0; typed <= 40; typed++) {
      const text = [...lines.slice(0, line), `    total = ${'x'.repeat(typed)}`, ...lines.slice(line)].join('\n');
      const prompt = buildPrompt(contextAt(text, line, 12 + typed), ring, charTokenizer);
      assert.ok(prompt.ids.length <= 1024);
      assert.ok(prompt.dropped.prefixLines > 0 && prompt.dropped.suffixLines > 0, 'the budget must cut both sides');
      if (previous !== null) {
        assert.equal(prompt.headLength, previous.headLength);
        assert.equal(prompt.ids[prompt.headLength - 1], FIM.middle);
        assert.ok(firstDifference(prompt.ids, previous.ids) >= prompt.headLength, `changed before <|fim_middle|> at ${typed}`);
      }
      previous = prompt;
    }
  });

  test('typing mid-line keeps the rest of the line in the suffix piece, unchanged', () => {
    const a = buildPrompt(contextAt('w = 1\nx = foo(a)\ny = 2\n', 1, 9), [], charTokenizer);
    const b = buildPrompt(contextAt('w = 1\nx = foo(ab)\ny = 2\n', 1, 10), [], charTokenizer);
    assert.equal(a.headLength, b.headLength);
    assert.equal(decode(a.ids.slice(a.ids.indexOf(FIM.suffix) + 1, a.headLength - 1)), ')\ny = 2\n');
    assert.equal(firstDifference(a.ids, b.ids), a.headLength + 'x = foo(a'.length);
  });
});

describe('token budget', () => {
  const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(3, '0')} ${'.'.repeat(20)}`);
  const text = lines.join('\n');

  test('the prefix loses lines from the top, the suffix from the bottom', () => {
    const prompt = buildPrompt(contextAt(text, 50, 4), [], charTokenizer, { maxPromptTokens: 400, layout: 'fim' });
    const ids = prompt.ids;
    const prefix = decode(ids.slice(1, ids.indexOf(FIM.suffix)));
    const suffix = decode(ids.slice(ids.indexOf(FIM.suffix) + 1, ids.indexOf(FIM.middle)));
    assert.ok(prefix.endsWith(`${lines[49]}\n`), 'the line above the cursor is kept');
    assert.ok(prefix.startsWith('line '), 'the cut is at a line boundary');
    assert.ok(suffix.startsWith(`${lines[50]!.slice(4)}\n${lines[51]}`), 'the lines below the cursor are kept');
    assert.ok(!suffix.endsWith('\n'));
    assert.ok(prompt.pieceLengths.suffix <= 0.2 * 400);
    assert.ok(ids.length <= 400);
    assert.ok(prompt.pieceLengths.prefix + prompt.pieceLengths.middle >= 0.5 * 400);
    const keptLines = prefix.split('\n').length - 1;
    assert.equal(keptLines + prompt.dropped.prefixLines, 50);
    assert.equal(prefix, `${lines.slice(50 - keptLines, 50).join('\n')}\n`);
  });

  test('the ring gets at most 25 %; a chunk that does not fit whole keeps its leading lines', () => {
    const chunkLines = Array.from({ length: 40 }, (_, i) => `ring ${i} ${'#'.repeat(10)}`);
    const ring: RingChunk[] = [{ path: 'r.py', languageId: 'python', lines: chunkLines }];
    const prompt = buildPrompt(contextAt(text, 50, 4), ring, charTokenizer, { maxPromptTokens: 400, layout: 'fim' });
    assert.ok(prompt.pieceLengths.ring > 0 && prompt.pieceLengths.ring <= 100);
    assert.ok(decode(prompt.ids.slice(0, prompt.pieceLengths.ring)).startsWith('# Path: r.py\nring 0 '));
    assert.equal(prompt.dropped.ringChunks, 0);
  });

  test('newest ring chunks win when not all fit', () => {
    const make = (tag: string): RingChunk => ({
      path: `${tag}.py`,
      languageId: 'python',
      lines: Array.from({ length: 3 }, (_, i) => `${tag}${i} = 1234`),
    });
    // Each chunk is 51 char-tokens; the ring budget is 110: two fit, and 8 left cannot hold a header and a line.
    const prompt = buildPrompt(contextAt(text, 50, 4), [make('old'), make('mid'), make('new')], charTokenizer, {
      maxPromptTokens: 440,
      layout: 'fim',
    });
    const head = decode(prompt.ids.slice(0, prompt.pieceLengths.ring));
    assert.ok(head.includes('new.py') && head.includes('mid.py'));
    assert.ok(!head.includes('old.py'));
    assert.ok(head.indexOf('mid.py') < head.indexOf('new.py'), 'emitted oldest first');
    assert.equal(prompt.dropped.ringChunks, 1);
  });

  test('an over-long cursor line keeps its tail within the budget', () => {
    const long = `x = ${'a'.repeat(2000)}`;
    const prompt = buildPrompt(contextAt(long, 0, long.length), [], charTokenizer, { maxPromptTokens: 256, layout: 'fim' });
    assert.equal(prompt.ids.length, 256);
    assert.ok(prompt.dropped.middleTokens > 0);
    assert.equal(decode(prompt.ids.slice(prompt.headLength)), 'a'.repeat(prompt.pieceLengths.middle));
  });
});

describe('memoizeTokenizer', () => {
  test('a keystroke on the cursor line encodes only that line once the pieces are memoised', () => {
    const encoded: string[] = [];
    const counting: PromptTokenizer = { ...charTokenizer, encode: (text) => (encoded.push(text), charTokenizer.encode(text)) };
    const memo = memoizeTokenizer(counting);
    const lines = Array.from({ length: 200 }, (_, i) => `v${i} = ${i}`);
    const at = (typed: string): CursorContext =>
      contextAt([...lines.slice(0, 100), `x = ${typed}`, ...lines.slice(100)].join('\n'), 100, 4 + typed.length);
    const first = buildPrompt(at('a'), [], memo, { maxPromptTokens: 300, layout: 'fim' });
    assert.ok(first.dropped.prefixLines > 0, 'the budget cut runs');
    encoded.length = 0;
    const second = buildPrompt(at('ab'), [], memo, { maxPromptTokens: 300, layout: 'fim' });
    assert.deepEqual(encoded, ['x = ab']);
    assert.deepEqual(second.ids, buildPrompt(at('ab'), [], charTokenizer, { maxPromptTokens: 300, layout: 'fim' }).ids);
    assert.ok(Object.isFrozen(memo.encode('x = ab')));
  });
});

describe('Generate Code chat prompt', () => {
  test('keeps the code nearest the cursor that fits, renders the template at most three times, never exceeds the budget', async () => {
    const { buildChatPrompt } = await import('../../src/prompt/build');
    const code = Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n');
    let renders = 0;
    const encodeChat = (message: string) => { renders++; return charTokenizer.encode(`<|user|>${message}<|assistant|>`); };
    for (const budget of [40, 300, 900, 5000]) {
      renders = 0;
      const ids = buildChatPrompt('write f', code, 'python', encodeChat, charTokenizer.encode, budget);
      const text = decode(ids);
      assert.ok(renders <= 3, `${renders} renders at budget ${budget}`);
      assert.ok(ids.length <= budget || !text.includes('line'), `over budget ${budget}: ${ids.length}`);
      assert.ok(text.includes('write f'), 'the instruction is always kept');
      if (text.includes('line ')) assert.ok(text.includes('line 199'), 'the lines nearest the cursor come first');
    }
    assert.ok(decode(buildChatPrompt('write f', code, 'python', encodeChat, charTokenizer.encode, 5000)).includes('line 0'), 'all of it when it fits');
  });
});
