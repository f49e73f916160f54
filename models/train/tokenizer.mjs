// Train the Qwen-style byte-level BPE (vocab 4096) on the training split and write tokenizer.json and
// tokenizer_config.json into models/train/work/tokenizer/.
//
//     node models/train/tokenizer.mjs        (after corpus.py; uses the npm package `tokenizers`)
//
// The npm trainer takes no options (30,000 merges by default). BPE merges are greedy, so the first K merges of
// that run are exactly a K-merge tokenizer: train once, keep the first K. The trainer reads files line by line,
// so merges across newlines ("\n\n") never appear; we add those few ourselves, ahead of the learned ones.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { Tokenizer, byteLevelAlphabet } = require('tokenizers');

const HERE = path.dirname(new URL(import.meta.url).pathname);
const WORK = path.join(HERE, 'work');
const OUT = path.join(WORK, 'tokenizer');
const VOCAB_SIZE = 4096;
// Special tokens sit at the end of the id space, in this order (config.json names the ids).
const SPECIAL_TOKENS = ['<|endoftext|>', '<|mask|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>',
  '<|im_start|>', '<|im_end|>'];
const CROSS_LINE_MERGES = [['Ċ', 'Ċ'], ['ĊĊ', 'Ċ'], ['č', 'Ċ']];
const BYTES_PER_LANGUAGE = 8_000_000; // training text per language: enough for 4k merges, keeps training short
// Qwen2/Qwen3 pre-tokenizer: single digits, letters with one leading non-letter, punctuation runs, newline runs.
const QWEN_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };

function tokenizerJson(vocab, merges) {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, i) => ({
      id: VOCAB_SIZE - SPECIAL_TOKENS.length + i, content, single_word: false, lstrip: false, rstrip: false,
      normalized: false, special: true,
    })),
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN_SPLIT }, behavior: 'Isolated', invert: false }, BYTE_LEVEL],
    },
    post_processor: BYTE_LEVEL,
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: Object.fromEntries(vocab), merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

// Qwen-style chat template: a generation prompt ends with "<|im_start|>assistant\n".
const CHAT_TEMPLATE = "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

function tokenizerConfig() {
  const decoder = {};
  SPECIAL_TOKENS.forEach((content, i) => {
    decoder[String(VOCAB_SIZE - SPECIAL_TOKENS.length + i)] = {
      content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true,
    };
  });
  return {
    add_bos_token: false, add_prefix_space: false, added_tokens_decoder: decoder,
    additional_special_tokens: SPECIAL_TOKENS.slice(2), bos_token: null, chat_template: CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false, eos_token: '<|endoftext|>', pad_token: '<|endoftext|>',
    mask_token: '<|mask|>', errors: 'replace', model_max_length: 4096, split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer', unk_token: null,
  };
}

function writeTrainingText() {
  // One text file per language, files in corpus order until the byte budget is spent.
  const bytes = new Map();
  const outs = new Map();
  const lines = fs.readFileSync(path.join(WORK, 'corpus', 'train.jsonl'), 'utf8').split('\n');
  for (const line of lines) {
    if (!line) continue;
    const { lang, text } = JSON.parse(line);
    if ((bytes.get(lang) ?? 0) >= BYTES_PER_LANGUAGE) continue;
    if (!outs.has(lang)) outs.set(lang, []);
    outs.get(lang).push(text);
    bytes.set(lang, (bytes.get(lang) ?? 0) + Buffer.byteLength(text));
  }
  return [...outs].map(([lang, texts]) => {
    const file = path.join(OUT, `bpe-${lang}.txt`);
    fs.writeFileSync(file, texts.join('\n'));
    return file;
  });
}

function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const files = writeTrainingText();
  const alphabet = byteLevelAlphabet().sort();
  const seed = tokenizerJson(new Map(alphabet.map((s, i) => [s, i])), []);
  const trainer = Tokenizer.fromString(JSON.stringify(seed));
  trainer.train(files);
  const trainedPath = path.join(OUT, 'trained-30k.json');
  trainer.save(trainedPath);
  const learned = JSON.parse(fs.readFileSync(trainedPath, 'utf8')).model.merges
    .map((m) => (Array.isArray(m) ? m : m.split(' ')));

  const vocab = new Map(alphabet.map((s, i) => [s, i]));
  const merges = [];
  const numMerges = VOCAB_SIZE - SPECIAL_TOKENS.length - alphabet.length;
  for (const [a, b] of [...CROSS_LINE_MERGES, ...learned]) {
    if (merges.length === numMerges) break;
    if (!vocab.has(a) || !vocab.has(b) || vocab.has(a + b)) continue;
    vocab.set(a + b, vocab.size);
    merges.push([a, b]);
  }
  const json = tokenizerJson(vocab, merges);
  fs.writeFileSync(path.join(OUT, 'tokenizer.json'), JSON.stringify(json, null, 1));
  fs.writeFileSync(path.join(OUT, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig(), null, 2) + '\n');
  console.log(`vocab ${vocab.size} + ${SPECIAL_TOKENS.length} special = ${vocab.size + SPECIAL_TOKENS.length}`);
}

main();
