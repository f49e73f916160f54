// The tokenizer wrapper over the fixture's real byte-level BPE: special ids by string, encode/decode round
// trips (cross-checked against the native Rust `tokenizers`), display decoding, chat templates, bad files.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as NativeTokenizer } from 'tokenizers';
import { loadTokenizer } from '../../src/model/tokenizer';
import { assertCheckpointError, editJson, tempDir } from '../fixtures/corrupt';
import { QWEN3_CHAT_TEMPLATE } from '../fixtures/qwen3-chat-template';
import { CORPUS, FIXTURE_IDS, FIXTURE_VOCAB_SIZE, writeTokenizer } from '../fixtures/tiny-tokenizer';

const tmp = tempDir('tokenizer');
after(() => tmp.remove());

let dirs = 0;
const fresh = (options: Parameters<typeof writeTokenizer>[1] = {}) => {
  const dir = join(tmp.path, `t${dirs++}`);
  writeTokenizer(dir, options);
  return dir;
};
const dir = fresh();
const tokenizer = loadTokenizer(dir);

const CODE = [
  'export function greet(name: string): string {\n\treturn `¡Hola, ${name}! 你好 🙂`;\n}\n',
  "def f(x):\n    return x ** 2  # naïve → ≤ 10\n\n\n",
  '  trailing spaces   \n\r\nconstructor __proto__ toString hasOwnProperty',
  'Ünïcödé: こんにちは, Straße, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
];

describe('special ids', () => {
  test('resolved by string from the added tokens', () => {
    assert.equal(tokenizer.vocabSize, FIXTURE_VOCAB_SIZE);
    assert.deepEqual(tokenizer.special, { endOfText: FIXTURE_IDS['<|endoftext|>'], imStart: FIXTURE_IDS['<|im_start|>'], imEnd: FIXTURE_IDS['<|im_end|>'], mask: FIXTURE_IDS['<|MASK|>'] });
    assert.deepEqual(tokenizer.fim, { prefix: FIXTURE_IDS['<|fim_prefix|>'], suffix: FIXTURE_IDS['<|fim_suffix|>'], middle: FIXTURE_IDS['<|fim_middle|>'] });
  });

  test('the mask is found under each of its spellings, and is null when absent', () => {
    for (const spelling of ['<MASK>', '<|mask|>', '<|MASK_OTHER|>']) {
      const d = fresh();
      editJson(join(d, 'tokenizer.json'), (json) => {
        for (const t of json.added_tokens as { content: string }[]) if (t.content === '<|MASK|>') t.content = spelling;
      });
      assert.equal(loadTokenizer(d).special.mask, spelling === '<|MASK_OTHER|>' ? null : FIXTURE_IDS['<|MASK|>'], spelling);
    }
  });

  test('no FIM tokens: fim is null', () => {
    assert.equal(loadTokenizer(fresh({ fim: false })).fim, null);
  });
});

describe('encode and decode', () => {
  test('code with unicode round trips, and matches the native Rust tokenizer id for id', async () => {
    const native = NativeTokenizer.fromFile(join(dir, 'tokenizer.json'));
    for (const text of [...CODE, CORPUS]) {
      const ids = tokenizer.encode(text);
      assert.ok(ids.length < new TextEncoder().encode(text).length, 'merges apply');
      assert.equal(tokenizer.decode(ids), text);
      const encoding = await native.encode(text, null, { addSpecialTokens: false });
      assert.deepEqual(ids, encoding.getIds(), JSON.stringify(text));
    }
  });

  test('no BOS or other added tokens; special strings in the text map to their ids', () => {
    assert.deepEqual(tokenizer.encode(''), []);
    assert.equal(tokenizer.encode('x').length, 1);
    assert.deepEqual(tokenizer.encode('<|im_end|>'), [FIXTURE_IDS['<|im_end|>']]);
    assert.deepEqual(tokenizer.decode([]), '');
  });

  test('skipSpecial drops control tokens, the mask and FIM tokens (marked non-special, as Qwen does)', () => {
    const body = tokenizer.encode('let x = 1;');
    const { endOfText, imStart, imEnd, mask } = tokenizer.special;
    const fim = tokenizer.fim ?? assert.fail('fim');
    const ids = [imStart, fim.prefix, ...body, mask ?? -1, fim.middle, imEnd, endOfText];
    assert.equal(tokenizer.decode(ids, { skipSpecial: true }), 'let x = 1;');
    assert.equal(tokenizer.decode(ids), '<|im_start|><|fim_prefix|>let x = 1;<|MASK|><|fim_middle|><|im_end|><|endoftext|>');
  });

  test('ids without a token (padded logit rows) decode to nothing', () => {
    assert.equal(tokenizer.decode([...tokenizer.encode('ok'), FIXTURE_VOCAB_SIZE, 151935]), 'ok');
  });
});

describe('chat template', () => {
  const messages = [{ role: 'user', content: 'Write a function.' }] as const;

  test('the fixture template renders ChatML and ends with the assistant line', () => {
    const prompt = tokenizer.renderChat(messages);
    assert.equal(prompt, '<|im_start|>user\nWrite a function.<|im_end|>\n<|im_start|>assistant\n');
    const ids = tokenizer.encodeChat(messages);
    assert.deepEqual(ids, tokenizer.encode(prompt));
    assert.equal(ids[0], tokenizer.special.imStart);
    const tail = [tokenizer.special.imStart, ...tokenizer.encode('assistant\n')];
    assert.deepEqual(ids.slice(-tail.length), tail);
  });

  test('the real SDAR (Qwen3) template renders with thinking off', () => {
    const d = fresh();
    writeFileSync(join(d, 'chat_template.jinja'), QWEN3_CHAT_TEMPLATE); // the file wins over the config field
    const prompt = loadTokenizer(d).renderChat([{ role: 'system', content: 'Be brief.' }, ...messages]);
    assert.equal(prompt, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWrite a function.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
  });

  test('no template: tokenizing works, chat names what is missing', () => {
    const d = fresh({ chatTemplate: false });
    const t = loadTokenizer(d);
    assert.equal(t.chatTemplate, null);
    assert.equal(t.decode(t.encode('fine')), 'fine');
    assertCheckpointError(() => t.renderChat(messages), 'missing-file', 'chat_template.jinja', 'tokenizer_config.json');
    assertCheckpointError(() => t.encodeChat(messages), 'missing-file', 'chat_template.jinja');
  });

  test('a template that does not parse', () => {
    const d = fresh();
    writeFileSync(join(d, 'chat_template.jinja'), '{% for m in messages %}{{ m.content }');
    assertCheckpointError(() => loadTokenizer(d), 'bad-tokenizer', join(d, 'chat_template.jinja'), 'chat template');
  });
});

describe('bad files', () => {
  test('a missing tokenizer.json', () => {
    const d = fresh();
    rmSync(join(d, 'tokenizer.json'));
    assertCheckpointError(() => loadTokenizer(d), 'missing-file', join(d, 'tokenizer.json'));
  });

  test('an unparsable tokenizer.json', () => {
    const d = fresh();
    writeFileSync(join(d, 'tokenizer.json'), '{"model": {');
    assertCheckpointError(() => loadTokenizer(d), 'bad-tokenizer', join(d, 'tokenizer.json'), 'not valid JSON');
  });

  test('JSON that is not a tokenizer', () => {
    const d = fresh();
    writeFileSync(join(d, 'tokenizer.json'), '{"vocab": {}}');
    assertCheckpointError(() => loadTokenizer(d), 'bad-tokenizer', join(d, 'tokenizer.json'), 'added_tokens');
  });

  test('a model the library cannot build', () => {
    const d = fresh();
    editJson(join(d, 'tokenizer.json'), (json) => {
      (json.model as Record<string, unknown>).type = 'Magic';
      delete (json.model as Record<string, unknown>).vocab;
    });
    assertCheckpointError(() => loadTokenizer(d), 'bad-tokenizer', join(d, 'tokenizer.json'), 'cannot load');
  });

  test('a tokenizer without <|im_end|>', () => {
    const d = fresh();
    editJson(join(d, 'tokenizer.json'), (json) => {
      json.added_tokens = (json.added_tokens as { content: string }[]).filter((t) => t.content !== '<|im_end|>');
    });
    assertCheckpointError(() => loadTokenizer(d), 'bad-tokenizer', join(d, 'tokenizer.json'), '<|im_end|>');
  });

  test('a missing tokenizer_config.json is allowed (no chat template)', () => {
    const d = fresh();
    rmSync(join(d, 'tokenizer_config.json'));
    assert.equal(loadTokenizer(d).chatTemplate, null);
  });
});
