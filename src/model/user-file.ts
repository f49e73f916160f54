// Opening files that came from the user or a download (configs, tokenizers, templates, safetensors, manifests).
// Only regular files are read, and text files only up to a size cap, so that a FIFO, a device (`config.json →
// /dev/zero`), a directory or a multi-gigabyte "config" gives a CheckpointError naming the file instead of a hang,
// an endless read or an exhausted heap. O_NONBLOCK makes opening a FIFO return at once (a plain open waits for a
// writer); it has no effect on the reads of a regular file.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { CheckpointError, type CheckpointProblem } from './errors';

/** Size caps of the small files we parse whole (the largest real ones: Qwen3's tokenizer.json ≈ 11 MB). */
export const MAX_BYTES = {
  config: 1 << 20,           // config.json, generation_config.json, manifest.json
  template: 1 << 20,         // chat_template.jinja
  tokenizer: 64 << 20,       // tokenizer.json
  tokenizerConfig: 16 << 20, // tokenizer_config.json (some carry every added token)
  index: 16 << 20,           // model.safetensors.index.json
  conversionRecord: 16 << 20, // model.json of a converted folder
} as const;

/**
 * Opens `file` for reading and checks that it is a regular file. Returns the descriptor and the size;
 * the caller closes it. A missing file is 'missing-file'; anything that is not a regular file is `problem`.
 */
export function openRegularFile(file: string, problem: CheckpointProblem): { fd: number; bytes: number } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError(file, 'missing-file', 'file not found');
    throw new CheckpointError(file, problem, `cannot open it (${code ?? (e as Error).message})`);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    const what = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a file';
    throw new CheckpointError(file, problem, `is ${what}, not a regular file`);
  }
  return { fd, bytes: st.size };
}

/** The whole of a small text file, refused above `maxBytes`. */
export function readTextFile(file: string, maxBytes: number, problem: CheckpointProblem): string {
  const { fd, bytes } = openRegularFile(file, problem);
  try {
    if (bytes > maxBytes) throw new CheckpointError(file, problem, `is ${formatMiB(bytes)}, more than the ${formatMiB(maxBytes)} such a file may have`);
    const buffer = Buffer.alloc(bytes);
    let read = 0;
    while (read < bytes) {
      const n = readSync(fd, buffer, read, bytes - read, read);
      if (n === 0) break; // the file shrank while we read it: parse what is there
      read += n;
    }
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Parsed JSON of a small file; unparsable → `problem`, naming the file. */
export function readJsonFile(file: string, maxBytes: number, problem: CheckpointProblem): unknown {
  const text = readTextFile(file, maxBytes, problem);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, problem, `not valid JSON (${(e as Error).message})`);
  }
}

function formatMiB(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 3 : 1)} MiB`;
}
