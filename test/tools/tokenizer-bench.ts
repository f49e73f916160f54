// Is a real-size tokenizer fast enough for ghost text? Builds a synthetic Qwen-style byte-level BPE tokenizer.json of
// SDAR's size (256 byte tokens + 151,387 merges = 151,643 ids, then Qwen's added tokens up to <|MASK|> 151669), learned
// by a plain BPE trainer on text from node_modules (.d.ts, .js, .py and .md files), then measures
// src/model/tokenizer.ts on it: load ms, and encode µs per 1,000 characters of this repository's src/ files.
// Prints one JSON line.
//
//   node out/tools/tokenizer-bench.js [--dir /tmp/simsd-tokenizer-151k] [--merges 151387] [--corpus-mb 48] [--passes 20]
//
// The tokenizer is built once into --dir (minutes; reused when tokenizer.json is there). The npm `tokenizers` trainer
// cannot be given a vocabulary size (it stops at 30,000), hence the trainer here: standard BPE over word counts (Qwen's
// pre-tokenizer split, byte-level alphabet), most frequent pair first, ties to the smaller pair. Late merges join
// rare pairs, as the tail of a real 151k vocabulary does.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadTokenizer } from '../../src/model/tokenizer';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const DIR = flag('dir', '/tmp/simsd-tokenizer-151k');
const MERGES = Number(flag('merges', '151387'));
const CORPUS_BYTES = Number(flag('corpus-mb', '48')) * 2 ** 20;
const PASSES = Number(flag('passes', '20'));

// Qwen2/Qwen3's pre-tokenizer (the one tokenizer.json declares), and a JS spelling of it for training.
const QWEN_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const JS_SPLIT = /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;
const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
/** Qwen's added tokens from 151643 on, and SDAR's <|MASK|> at 151669. */
const ADDED = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>',
  '<|box_end|>', '<|quad_start|>', '<|quad_end|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>',
  '<|video_pad|>', '<tool_call>', '</tool_call>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>',
  '<|repo_name|>', '<|file_sep|>', '<tool_response>', '</tool_response>', '<think>', '</think>', '<|MASK|>'];

/** GPT-2's byte → printable character map (bytes_to_unicode). */
function byteAlphabet(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(keep(b) ? b : 256 + extra++));
  return out;
}

function walk(dir: string, exts: readonly string[], out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) walk(p, exts, out);
    else if (st?.isFile() && exts.some((e) => name.endsWith(e))) out.push(p);
  }
}

/** Learns `merges` BPE merges over the word counts of the corpus. Returns the merges as token pairs. */
function train(text: string, merges: number): { tokens: string[]; merges: [string, string][] } {
  const alphabet = byteAlphabet();
  const tokens = [...alphabet];
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(JS_SPLIT)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [w, c] of counts) {
    const bytes = encoder.encode(w);
    if (bytes.length < 2) continue;
    words.push([...bytes]);
    freq.push(c);
  }
  // Pair key a · 2^18 + b (ids < 2^18). Counts, the words that held each pair (possibly stale), a lazy max-heap.
  const key = (a: number, b: number) => a * 262144 + b;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  const heap: [number, number][] = [];
  const better = (x: [number, number], y: [number, number]) => x[0] > y[0] || (x[0] === y[0] && x[1] < y[1]);
  const push = (item: [number, number]) => {
    heap.push(item);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!better(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  };
  const pop = (): [number, number] | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && better(heap[l], heap[m])) m = l;
        if (r < heap.length && better(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  };
  const add = (w: number, k: number, n: number) => {
    pairCount.set(k, (pairCount.get(k) ?? 0) + n);
    if (n > 0) {
      const list = pairWords.get(k);
      if (list === undefined) pairWords.set(k, [w]);
      else if (list[list.length - 1] !== w) list.push(w);
    }
  };
  words.forEach((s, w) => { for (let i = 0; i + 1 < s.length; i++) add(w, key(s[i], s[i + 1]), freq[w]); });
  for (const [k, c] of pairCount) push([c, k]);
  const learned: [string, string][] = [];
  while (learned.length < merges) {
    const top = pop();
    if (top === undefined) break;
    const [c, k] = top;
    if (pairCount.get(k) !== c || c <= 0) continue; // stale
    const a = Math.floor(k / 262144);
    const b = k % 262144;
    const id = tokens.length;
    tokens.push(tokens[a] + tokens[b]);
    learned.push([tokens[a], tokens[b]]);
    const touched = new Set<number>();
    for (const w of new Set(pairWords.get(k))) {
      const s = words[w];
      let holds = false;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) { holds = true; break; }
      if (!holds) continue;
      for (let i = 0; i + 1 < s.length; i++) { const p = key(s[i], s[i + 1]); add(w, p, -freq[w]); touched.add(p); }
      const merged: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { merged.push(id); i++; } else merged.push(s[i]);
      }
      words[w] = merged;
      for (let i = 0; i + 1 < merged.length; i++) { const p = key(merged[i], merged[i + 1]); add(w, p, freq[w]); touched.add(p); }
    }
    pairWords.delete(k);
    for (const p of touched) {
      const n = pairCount.get(p) ?? 0;
      if (n > 0) push([n, p]);
      else pairCount.delete(p);
    }
  }
  return { tokens, merges: learned };
}

function buildTokenizer(dir: string): { corpusBytes: number; merges: number; trainSeconds: number } {
  const started = performance.now();
  const files: string[] = [];
  walk('node_modules', ['.d.ts', '.md', '.js', '.py'], files);
  let text = '';
  for (const f of files) {
    if (text.length >= CORPUS_BYTES) break;
    text += readFileSync(f, 'utf8') + '\n';
  }
  const { tokens, merges } = train(text, MERGES);
  if (merges.length < MERGES) throw new Error(`the corpus gave only ${merges.length} merges; raise --corpus-mb`);
  const vocab = Object.fromEntries(tokens.map((t, id) => [t, id]));
  const json = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: ADDED.map((content, i) => ({ id: tokens.length + i, content, single_word: false, lstrip: false, rstrip: false,
      normalized: false, special: !content.startsWith('<|fim') && content !== '<|MASK|>' })),
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN_SPLIT }, behavior: 'Isolated', invert: false }, BYTE_LEVEL] },
    post_processor: BYTE_LEVEL,
    decoder: BYTE_LEVEL,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false,
      byte_fallback: false, ignore_merges: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  return { corpusBytes: text.length, merges: merges.length, trainSeconds: (performance.now() - started) / 1000 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

const built = existsSync(join(DIR, 'tokenizer.json')) ? null : buildTokenizer(DIR);

// Load: the first load in this process, then the median of 5 more.
const loads: number[] = [];
let tokenizer: ReturnType<typeof loadTokenizer> | undefined;
for (let i = 0; i < 6; i++) {
  const t0 = performance.now();
  tokenizer = loadTokenizer(DIR);
  loads.push(performance.now() - t0);
}
const loaded = tokenizer!;

// Encode: this repository's src/ as 1,000-character chunks. The first pass meets every word once (BPE's word cache
// starts empty); later passes are what repeated ghost-text requests over the same file see.
const sources: string[] = [];
walk('src', ['.ts'], sources);
const code = sources.map((f) => readFileSync(f, 'utf8')).join('\n');
const CHUNK = 1000;
const chunks: string[] = [];
for (let i = 0; i + CHUNK <= code.length; i += CHUNK) chunks.push(code.slice(i, i + CHUNK));
const timeChunks = (): { perChunk: number[]; tokens: number } => {
  const perChunk: number[] = [];
  let tokens = 0;
  for (const c of chunks) {
    const t0 = performance.now();
    tokens += loaded.encode(c).length;
    perChunk.push((performance.now() - t0) * 1000);
  }
  return { perChunk, tokens };
};
const first = timeChunks();
const roundTripFailures = chunks.filter((c) => loaded.decode(loaded.encode(c)) !== c.normalize('NFC')).length;
const warm: number[] = [];
const byChunk: number[][] = chunks.map(() => []);
for (let p = 0; p < PASSES; p++) timeChunks().perChunk.forEach((us, i) => { warm.push(us); byChunk[i].push(us); });
const chunkMedians = byChunk.map(median).sort((a, b) => a - b); // the text's cost, without the odd GC pause
// A ghost-text prompt: 8,000 characters before the cursor, encoded whole.
const prompt = code.slice(0, 8000);
const promptTimes: number[] = [];
for (let i = 0; i < PASSES; i++) {
  const t0 = performance.now();
  loaded.encode(prompt);
  promptTimes.push(performance.now() - t0);
}

process.stdout.write(JSON.stringify({
  tokenizer: join(DIR, 'tokenizer.json'),
  tokenizerBytes: statSync(join(DIR, 'tokenizer.json')).size,
  vocabSize: loaded.vocabSize,
  built,
  loadMs: { first: round(loads[0]), median: round(median(loads.slice(1))) },
  encode: {
    text: `src/**/*.ts, ${chunks.length} chunks of ${CHUNK} characters`,
    roundTripFailures,
    charsPerToken: round((chunks.length * CHUNK) / first.tokens, 2),
    firstPassUsPer1kChars: { median: round(median(first.perChunk)), p90: round(first.perChunk.sort((a, b) => a - b)[Math.floor(first.perChunk.length * 0.9)]) },
    warmUsPer1kChars: { median: round(median(warm)), p90: round(warm.sort((a, b) => a - b)[Math.floor(warm.length * 0.9)]), calls: warm.length },
    warmChunkMedianUs: { median: round(median(chunkMedians)), p90: round(chunkMedians[Math.floor(chunkMedians.length * 0.9)]), max: round(chunkMedians.at(-1)!) },
    prompt8kCharsMs: { median: round(median(promptTimes), 2) },
  },
  peakRssBytes: process.resourceUsage().maxRSS * 1024,
}) + '\n');
