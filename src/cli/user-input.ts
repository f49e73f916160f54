// Files and token ids the user passes to the CLI: prompt files, bench prompts (.jsonl), --prompt-ids. Read and
// checked before any model loads where that is possible; ids are held to the target's vocabulary once it is loaded.
import * as fs from 'node:fs';
import { RequestError } from '../model/errors';
import { UsageError } from './args';
import { describeFsError, isFsError } from './errors';

/** Prompt files and bench prompt lists are small; a cap keeps `/dev/zero` or a stray dump from filling the heap. */
export const MAX_PROMPT_FILE_BYTES = 64 * 2 ** 20;

/**
 * The whole of a text file the user named (UTF-8). Pipes such as /dev/stdin work; a folder, a missing or
 * unreadable file, or one over `maxBytes` is a one-line error naming the path.
 */
export function readUserText(file: string, maxBytes = MAX_PROMPT_FILE_BYTES): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw isFsError(e) ? new UsageError(describeFsError(e, file)) : e;
  }
  try {
    if (fs.fstatSync(fd).isDirectory()) throw new UsageError(`cannot read ${file}: is a folder, not a file`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(1 << 20, maxBytes + 1 - total));
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new UsageError(`cannot read ${file}: more than ${maxBytes >= 2 ** 20 ? `${maxBytes / 2 ** 20} MiB` : `${maxBytes} bytes`}`);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    throw isFsError(e) ? new UsageError(describeFsError(e, file)) : e;
  } finally {
    fs.closeSync(fd);
  }
}

/** Refuses an id the target cannot embed; `where` names the flag or FILE:LINE. */
export function checkVocabulary(ids: readonly number[], vocabSize: number, where: string): void {
  const bad = ids.findIndex((id) => id >= vocabSize);
  if (bad >= 0) {
    throw new RequestError(`${where}: token id ${ids[bad]} (position ${bad + 1}) is outside the target's vocabulary of ${vocabSize} ids (0..${vocabSize - 1})`);
  }
}

/** One prompt of a bench list: text to tokenize, or ids already checked as non-negative safe integers. */
export type PromptEntry = { readonly text: string; readonly where: string } | { readonly ids: readonly number[]; readonly where: string };

/**
 * Parses a .jsonl of `{"prompt": "text"}` or `{"ids": [0, 1, …]}` lines (blank lines skipped). Every problem is
 * a UsageError naming FILE:LINE.
 */
export function parsePromptsJsonl(text: string, file: string): PromptEntry[] {
  const entries: PromptEntry[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch (e) {
      throw new UsageError(`${where}: not valid JSON (${(e as Error).message})`);
    }
    const shape = `expected {"prompt": "text"} or {"ids": [non-negative integers]}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new UsageError(`${where}: ${shape}, got ${describe(entry)}`);
    const keys = Object.keys(entry);
    const record = entry as Record<string, unknown>;
    if (keys.length !== 1 || !(keys[0] === 'prompt' || keys[0] === 'ids')) throw new UsageError(`${where}: ${shape}, got the keys ${keys.join(', ') || '(none)'}`);
    if (keys[0] === 'prompt') {
      if (typeof record.prompt !== 'string') throw new UsageError(`${where}: "prompt" must be a string, got ${describe(record.prompt)}`);
      entries.push({ text: record.prompt, where });
      return;
    }
    if (!Array.isArray(record.ids)) throw new UsageError(`${where}: "ids" must be an array of token ids, got ${describe(record.ids)}`);
    const ids = record.ids as unknown[];
    const bad = ids.findIndex((id) => typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0);
    if (bad >= 0) throw new UsageError(`${where}: "ids"[${bad}] is ${describe(ids[bad])}, not a non-negative integer token id`);
    entries.push({ ids: ids as number[], where });
  });
  if (entries.length === 0) throw new UsageError(`${file}: no prompts (one JSON object per line)`);
  return entries;
}

function describe(v: unknown): string {
  const json = JSON.stringify(v) ?? String(v);
  return json.length > 40 ? `${json.slice(0, 40)}…` : json;
}
