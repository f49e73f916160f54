// What the CLI reads from the user besides flags: bench prompt lists (.jsonl), prompt files, token ids against the
// vocabulary. Every problem is one line naming the file (and line) or the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/cli/args';
import { checkVocabulary, parsePromptsJsonl, readUserText } from '../../src/cli/user-input';
import { RequestError } from '../../src/model/errors';

function refusedJsonl(text: string, pattern: RegExp): void {
  assert.throws(() => parsePromptsJsonl(text, 'p.jsonl'), (e: unknown) => e instanceof UsageError && pattern.test(e.message) && !e.message.includes('\n'));
}

test('bench prompts: every line is {"prompt": string} or {"ids": [non-negative integers]}, errors name FILE:LINE', () => {
  const ok = parsePromptsJsonl('{"prompt": "def f("}\n\n{"ids": [1, 2, 3]}\r\n{"ids": []}\n', 'p.jsonl');
  assert.deepEqual(ok, [{ text: 'def f(', where: 'p.jsonl:1' }, { ids: [1, 2, 3], where: 'p.jsonl:3' }, { ids: [], where: 'p.jsonl:4' }]);
  refusedJsonl('{"prompt": "a"}\n{"ids":[1,"a",null]}\n', /^p\.jsonl:2: "ids"\[1\] is "a", not a non-negative integer token id$/);
  refusedJsonl('{"ids":[1,null]}', /^p\.jsonl:1: "ids"\[1\] is null/);
  refusedJsonl('{"ids":[1.5]}', /"ids"\[0\] is 1\.5/);
  refusedJsonl('{"ids":[-1]}', /"ids"\[0\] is -1/);
  refusedJsonl('{"ids":[1e300]}', /"ids"\[0\] is 1e\+300/);
  refusedJsonl('{"prompt": "a"}\n\nnot json\n', /^p\.jsonl:3: not valid JSON \(/);
  refusedJsonl('{"prompt": "a"', /^p\.jsonl:1: not valid JSON/);
  refusedJsonl('[1, 2]', /^p\.jsonl:1: expected \{"prompt": "text"\} or \{"ids": \[non-negative integers\]\}, got \[1,2\]/);
  refusedJsonl('"text"', /^p\.jsonl:1: expected .*, got "text"/);
  refusedJsonl('{"prompt": 3}', /^p\.jsonl:1: "prompt" must be a string, got 3/);
  refusedJsonl('{"ids": "1,2"}', /^p\.jsonl:1: "ids" must be an array/);
  refusedJsonl('{"prompt": "a", "ids": [1]}', /^p\.jsonl:1: expected .*, got the keys prompt, ids/);
  refusedJsonl('{"promt": "a"}', /got the keys promt/);
  refusedJsonl('\n  \n', /^p\.jsonl: no prompts/);
});

test('token ids at or above the vocabulary size are refused naming the id and the size', () => {
  checkVocabulary([0, 4095], 4096, '--prompt-ids');
  assert.throws(() => checkVocabulary([1, 4294967295], 4096, '--prompt-ids'), (e: unknown) => e instanceof RequestError
    && e.message === "--prompt-ids: token id 4294967295 (position 2) is outside the target's vocabulary of 4096 ids (0..4095)");
  assert.throws(() => checkVocabulary([4096], 4096, 'p.jsonl:7'), /^RequestError: p\.jsonl:7: token id 4096 \(position 1\)/);
});

test('readUserText: one-line errors naming the path for a missing file, a folder, an oversized file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'simsd-cli-input-'));
  try {
    const file = join(dir, 'p.txt');
    writeFileSync(file, 'def f(\n');
    assert.equal(readUserText(file), 'def f(\n');
    assert.throws(() => readUserText(join(dir, 'missing.txt')), (e: unknown) => e instanceof UsageError && e.message === `cannot read ${join(dir, 'missing.txt')}: no such file or folder`);
    assert.throws(() => readUserText(dir), (e: unknown) => e instanceof UsageError && e.message === `cannot read ${dir}: is a folder, not a file`);
    assert.throws(() => readUserText(join(file, 'x')), (e: unknown) => e instanceof UsageError && e.message === `cannot read ${join(file, 'x')}: a part of the path is not a folder`);
    assert.throws(() => readUserText(file, 4), /more than/);
    assert.throws(() => readUserText('/dev/zero', 1 << 16), (e: unknown) => e instanceof UsageError && /^cannot read \/dev\/zero: more than/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
