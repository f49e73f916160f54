// Tokenise the corpus into training documents: models/train/work/tokens/{train,heldout}.{bin,idx}.
//
//     node models/train/tokenize.mjs [tokenizer.json]    (after corpus.py and tokenizer.mjs)
//
// A document fits one training window (WINDOW tokens) and starts at position 0, as an inference prompt does.
// Files are cut into chunks of at most CHUNK tokens at line starts (an editor window starts at a line too); the
// last chunk of a file ends with <|endoftext|>. About half of the chunks become fill-in-the-middle documents
// (PSM: <|fim_prefix|> P <|fim_suffix|> S <|fim_middle|> M <|endoftext|>), cut at two random characters, each
// piece tokenised on its own as the completion prompt builder does. Every choice is a hash of (file sha1, chunk),
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
const WINDOW = 256;
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
  // Four uniform numbers in [0, 1) from one sha1: the FIM coin and the two cut points.
  const h = crypto.createHash('sha1').update(key).digest();
  return [0, 4, 8, 12].map((o) => h.readUInt32LE(o) / 2 ** 32);
}

async function documentsOfFile(tok, ids, specials, toByte, idToToken, sha1) {
  const bytesOf = (tokenIds) => Buffer.from(tokenIds.flatMap((id) => [...idToToken[id]].map((c) => toByte.get(c))));
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
    const [coin, u1, u2] = hashUnits(`${sha1}:${chunk}`);
    let doc = { ids: plain, isFim: 0, chunk };
    const text = bytesOf(ids.slice(s, e)).toString('utf8');
    if (coin < FIM_RATE && !text.includes('\uFFFD')) {
      const [a, b] = [Math.floor(u1 * (text.length + 1)), Math.floor(u2 * (text.length + 1))].sort((x, y) => x - y);
      const enc = async (t) => (t ? (await tok.encode(t)).getIds() : []);
      const [p, m, sfx] = await Promise.all([enc(text.slice(0, a)), enc(text.slice(a, b)), enc(text.slice(b))]);
      const overflow = Math.max(0, p.length + m.length + sfx.length + 4 - WINDOW);
      if (overflow <= p.length) { // crop the prefix from the left; never cut <|fim_middle|> away
        const fim = [specials.fimPrefix, ...p.slice(overflow), specials.fimSuffix, ...sfx, specials.fimMiddle, ...m,
          specials.eot];
        doc = { ids: fim, isFim: 1, chunk };
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
