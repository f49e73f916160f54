// The hashes the Hub lists for every file, computed incrementally: sha256 of the bytes for LFS files, the git blob
// sha1 (`sha1("blob {size}\0" + bytes)`) for the small files kept in git. And the first-bytes check that a
// `.safetensors` body is one: an 8-byte little-endian header length, then the JSON header's `{`.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { RepoFile } from './api';

/** The bytes that decide whether a body starts like a safetensors file. */
export const MAGIC_BYTES = 9;

export function newHasher(file: RepoFile): Hash {
  if (file.lfs !== undefined) return createHash('sha256');
  return createHash('sha1').update(`blob ${file.size}\0`);
}

export const digestName = (file: RepoFile): string => (file.lfs !== undefined ? 'sha256' : 'git sha1');

export function isWeightsFile(path: string): boolean {
  return path.endsWith('.safetensors');
}

/** Why `head` (the file's first bytes, at least MAGIC_BYTES unless the file is shorter) is not a safetensors file. */
export function safetensorsProblem(head: Buffer, fileSize: number): string | null {
  if (head.length < MAGIC_BYTES) return `it is only ${head.length} bytes long`;
  const headerBytes = head.readBigUInt64LE(0);
  if (headerBytes < 2n || headerBytes > BigInt(fileSize - 8)) return `its first 8 bytes (a header length of ${headerBytes}) do not fit a ${fileSize}-byte safetensors file`;
  if (head[8] !== 0x7b) return `its header does not start with '{' (it starts ${JSON.stringify(head.subarray(0, 16).toString('latin1'))})`;
  return null;
}

/**
 * Feeds the first `bytes` of `path` to `hasher` and returns the first MAGIC_BYTES of them. `onBytes` is told the
 * bytes read so far (hashing a resumed 8 GB part takes seconds).
 */
export async function hashPrefix(path: string, bytes: number, hasher: Hash, onBytes?: (done: number) => void): Promise<Buffer> {
  let head = Buffer.alloc(0);
  if (bytes === 0) return head;
  let done = 0;
  for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hasher.update(chunk);
    if (head.length < MAGIC_BYTES) head = Buffer.concat([head, chunk.subarray(0, MAGIC_BYTES - head.length)]);
    done += chunk.length;
    onBytes?.(done);
  }
  return head;
}

/** The Hub's hash of a whole file on disk, and its first bytes. */
export async function hashFile(path: string, file: RepoFile, onBytes?: (done: number) => void): Promise<{ digest: string; head: Buffer }> {
  const hasher = newHasher(file);
  const head = await hashPrefix(path, file.size, hasher, onBytes);
  return { digest: hasher.digest('hex'), head };
}
