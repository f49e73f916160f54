// Tokenise the corpus into training documents: models/train/work/tokens/{train,heldout}.{bin,idx}.
//
//     node models/train/tokenize.mjs [tokenizer.json]    (after corpus.py and tokenizer.mjs)
//
// A document fits one training window (WINDOW tokens) and starts at position 0, as an inference prompt does.
// Files are cut into chunks of at most CHUNK tokens at line starts (an editor window starts at a line too); the
// last chunk of a file ends with <|endoftext|>. About half of the chunks become fill-in-the-middle documents
// (PSM: <|fim_prefix|> P <|fim_suffix|> S <|fim_middle|> M <|endoftext|>), cut where an editor request cuts (see
// fimCuts: P = whole lines, M from a line start to a line end or a token boundary), each piece tokenised on its own
// as the completion prompt builder does. Every choice is a hash of (file sha1, chunk),
// so the output is deterministic. Held-out ids are cross-checked against @huggingface/tokenizers (the runtime's).
//
// .bin: uint16 token ids, documents back to back. .idx: int32 rows [offset, length, language, isFim, chunk, file].
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');
const { Tokenizer: RuntimeTokenizer } = require('@huggingface/tokenizers');

const HERE = path.dirname(new URL(import.meta.url).pathname);
const WORK = path.join(HERE, 'work');
const WINDOW = 512;
const CHUNK = WINDOW - 4; // a multiple of the block length, with room for <|endoftext|>
const FIM_RATE = 0.5;
const LANGUAGES = ['python', 'typescript', 'javascript'];

// GPT-2 byte <-> unicode table used by ByteLevel: token strings spell bytes with printable characters.
function byteLevelDecoder() {
  const printable = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const toByte = new Map(printable.map((b) => [String.fromCodePoint(b), b]));
  let next = 256;
  for (let b = 0; b < 256; b++) if (!printable.includes(b)) toByte.set(String.fromCodePoint(next++), b);
  return toByte;
}

function hashUnits(key) {
  // Five uniform numbers in [0, 1) from one sha1: the FIM coin and the choices of the cut points.
  const h = crypto.createHash('sha1').update(key).digest();
  return [0, 4, 8, 12, 16].map((o) => h.readUInt32LE(o) / 2 ** 32);
}

// FIM cut points, in bytes of the chunk, chosen the way an editor request splits a file (src/completion/prompt.ts):
// the prefix is whole lines (it ends at a line start), the middle starts at that line start (the runtime puts the
// cursor line's left part after <|fim_middle|>) and ends either at the end of a line (just before its newline, so
// the suffix starts with "\n" as the runtime's "rest of cursor line + \n + suffix lines" does when the cursor is at
// the end of its line) or at a token boundary inside a line (the cursor inside a line). The middle spans the
// cursor line plus k more lines, k = 0 with probability 0.4, else geometric with mean 2.5.
function fimCuts(bytes, boundaries, [, ua, uk, umode, upos]) {
  const lineStarts = [0];
  for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 10) lineStarts.push(i + 1);
  const first = Math.floor(ua * lineStarts.length);
  const k = uk < 0.4 ? 0 : 1 + Math.floor(Math.log(1 - (uk - 0.4) / 0.6) / Math.log(1 - 1 / 2.5));
  const line = Math.min(lineStarts.length - 1, first + k);
  const a = lineStarts[first];
  const ls = lineStarts[line];
  let le = bytes.indexOf(10, ls);
  if (le < 0) le = bytes.length;
  let b = le;
  if (umode >= 0.5) {
    const inside = boundaries.filter((x) => x > ls && x < le);
    if (inside.length) b = inside[Math.floor(upos * inside.length)];
  }
  if (b <= a) b = le > a ? le : bytes.length;
  return [a, b];
}

async function documentsOfFile(tok, ids, specials, toByte, idToToken, sha1) {
  const tokenBytes = (id) => [...idToToken[id]].map((c) => toByte.get(c));
  const bytesOf = (tokenIds) => Buffer.from(tokenIds.flatMap(tokenBytes));
  const lineStart = ids.map((_, i) => i === 0 || toByte.get(idToToken[ids[i - 1]].at(-1)) === 10);
  const docs = [];
  for (let s = 0, chunk = 0; s < ids.length; chunk++) {
    let e = Math.min(ids.length, s + CHUNK);
    if (e < ids.length) {
      let cut = e;
      while (cut > s && !lineStart[cut]) cut--;
      if (cut > s) e = cut;
    }
    const isLast = e === ids.length;
    const plain = ids.slice(s, e).concat(isLast ? [specials.eot] : []);
    const units = hashUnits(`${sha1}:${chunk}`);
    let doc = { ids: plain, isFim: 0, chunk };
    const bytes = bytesOf(ids.slice(s, e));
    const text = bytes.toString('utf8');
    if (units[0] < FIM_RATE && !text.includes('\uFFFD')) {
      const boundaries = [];
      for (let j = s, at = 0; j < e; j++) boundaries.push((at += tokenBytes(ids[j]).length));
      const [a, b] = fimCuts(bytes, boundaries, units);
      const pieces = [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)].map((x) => x.toString('utf8'));
      const enc = async (t) => (t ? (await tok.encode(t)).getIds() : []);
      if (!pieces.some((t) => t.includes('\uFFFD'))) {
        const [p, m, sfx] = await Promise.all(pieces.map(enc));
        const overflow = Math.max(0, p.length + m.length + sfx.length + 4 - WINDOW);
        if (overflow <= p.length) { // crop the prefix from the left; never cut <|fim_middle|> away
          const fim = [specials.fimPrefix, ...p.slice(overflow), specials.fimSuffix, ...sfx, specials.fimMiddle, ...m,
            specials.eot];
          doc = { ids: fim, isFim: 1, chunk };
        }
      }
    }
    docs.push(doc);
    s = e;
  }
  return docs;
}

async function main() {
  const tokenizerPath = process.argv[2] ?? path.join(WORK, 'tokenizer', 'tokenizer.json');
  const tok = Tokenizer.fromFile(tokenizerPath);
  const json = JSON.parse(fs.readFileSync(tokenizerPath, 'utf8'));
  const runtime = new RuntimeTokenizer(json, {});
  const idToToken = [];
  for (const [t, id] of Object.entries(json.model.vocab)) idToToken[id] = t;
  const specialId = (s) => json.added_tokens.find((t) => t.content === s).id;
  const specials = { eot: specialId('<|endoftext|>'), fimPrefix: specialId('<|fim_prefix|>'),
    fimSuffix: specialId('<|fim_suffix|>'), fimMiddle: specialId('<|fim_middle|>') };
  const toByte = byteLevelDecoder();
  const outDir = path.join(WORK, 'tokens');
  fs.mkdirSync(outDir, { recursive: true });
  const stats = {};
  for (const split of ['heldout', 'train']) {
    const lines = fs.readFileSync(path.join(WORK, 'corpus', `${split}.jsonl`), 'utf8').split('\n').filter(Boolean);
    const tokens = [];
    const index = [];
    const files = [];
    for (const [fileIdx, line] of lines.entries()) {
      const { source, path: rel, lang, sha1, text } = JSON.parse(line);
      const ids = (await tok.encode(text)).getIds();
      if (split === 'heldout') {
        const other = runtime.encode(text).ids;
        if (other.length !== ids.length || other.some((x, i) => x !== ids[i])) {
          throw new Error(`tokenizers and @huggingface/tokenizers disagree on ${source}/${rel}`);
        }
      }
      files.push({ source, path: rel, lang, sha1 });
      const st = (stats[`${lang}/${split}`] ??= { files: 0, bytes: 0, tokens: 0, documents: 0, fimDocuments: 0 });
      st.files += 1;
      st.bytes += Buffer.byteLength(text);
      st.tokens += ids.length;
      for (const doc of await documentsOfFile(tok, ids, specials, toByte, idToToken, sha1)) {
        index.push(tokens.length, doc.ids.length, LANGUAGES.indexOf(lang), doc.isFim, doc.chunk, fileIdx);
        for (const id of doc.ids) tokens.push(id);
        st.documents += 1;
        st.fimDocuments += doc.isFim;
      }
    }
    fs.writeFileSync(path.join(outDir, `${split}.bin`), Buffer.from(Uint16Array.from(tokens).buffer));
    fs.writeFileSync(path.join(outDir, `${split}.idx`), Buffer.from(Int32Array.from(index).buffer));
    fs.writeFileSync(path.join(outDir, `${split}-files.json`), JSON.stringify(files));
  }
  for (const st of Object.values(stats)) st.bytesPerToken = +(st.bytes / st.tokens).toFixed(3);
  fs.writeFileSync(path.join(outDir, 'stats.json'), JSON.stringify(stats, null, 1));
  console.log(JSON.stringify(stats));
}

await main();
