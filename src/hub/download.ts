// One file of a pull: `GET {endpoint}/{repo}/resolve/{commit}/{path}` streamed into `blobs/{etag}.incomplete`, hashed
// while it streams, checked, then renamed to `blobs/{etag}`.
//
// Resume: a part left by a dropped connection, a cancel or a killed process is continued with `Range: bytes=N-`
// (206 + a matching Content-Range expected; a 200 restarts the file cleanly). A dropped or stalled connection is
// retried with exponential backoff; an attempt that moved the file forward resets the count. The part's bytes
// are hashed before the ranged request, so the hash always covers the whole file.
// Refused: an HTML/JSON/text body or a safetensors file whose first bytes are not a safetensors header
// ('not-weights', nothing written), and a file whose size or hash differs from the listing ('corrupt': the part is
// deleted, since it is proven wrong). Otherwise the part is kept for the next run. The blob never exists unless
// verified, so a corrupt or refused file never reaches a snapshot.
import type { Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { etagOf, headerText, resolveUrl, withHubErrors, type HubContext, type RepoFile } from './api';
import { blobPath, partPath, type RepoCache } from './cache';
import { digestName, hashPrefix, isWeightsFile, MAGIC_BYTES, newHasher, safetensorsProblem } from './digest';
import { errorForStatus, HubError } from './errors';
import { httpGet, isTransient, sleep, TransientError, type GetResponse } from './http';

export interface BlobDownload {
  readonly ctx: HubContext;
  readonly cache: RepoCache;
  readonly commit: string;
  readonly file: RepoFile;
  /** The file's bytes on disk so far (part included) and the bytes received over the network by this call. */
  readonly onProgress?: (fileBytes: number, receivedBytes: number) => void;
  /** Hashing an existing part before resuming it: bytes hashed so far. */
  readonly onVerify?: (hashedBytes: number) => void;
}

export interface BlobResult {
  readonly resumedBytes: number;      // bytes of an earlier part that were kept and not fetched again
  readonly receivedBytes: number;     // bytes received over the network (re-sent bytes included)
}

/** What is known about the part between attempts: its size, the hash of those bytes and its first bytes. */
interface PartState {
  bytes: number;
  hasher: Hash;
  head: Buffer;
}

export async function downloadBlob(d: BlobDownload): Promise<BlobResult> {
  const { ctx, cache, file } = d;
  const etag = etagOf(file);
  const part = partPath(cache, etag);
  fs.mkdirSync(cache.blobs, { recursive: true });
  let state = await readPart(d, part);
  const resumedBytes = state.bytes;
  let received = 0;
  let failures = 0;
  while (state.bytes < file.size) {
    const before = state.bytes;
    try {
      await fetchRest(d, part, state, (n) => { received += n; });
    } catch (err) {
      if (err instanceof HubError && err.kind === 'corrupt') fs.rmSync(part, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new HubError('disk-full', cache.repo, `${cache.repo} (${file.path}): the disk is full (${state.bytes} of ${file.size} bytes written to ${part}); free some space and run the pull again to resume`, file.path);
      }
      if (!isTransient(err)) throw err;
      failures = state.bytes > before ? 1 : failures + 1;
      if (failures >= ctx.tries) await withHubErrors(ctx, cache.repo, file.path, () => Promise.reject(err));
      await sleep(ctx.backoffMs * 2 ** (failures - 1), ctx.signal);
      if (state.bytes !== statSize(part)) state = await readPart(d, part); // a write failed halfway: re-read
    }
  }
  if (file.size === 0) fs.writeFileSync(part, ''); // an empty file needs no request
  const digest = state.hasher.digest('hex');
  if (digest !== etag) {
    fs.rmSync(part, { force: true });
    throw new HubError('corrupt', cache.repo, `${cache.repo} (${file.path}): the downloaded file is corrupt (${digestName(file)} ${digest}, the Hub lists ${etag}); it was deleted and nothing was added to the snapshot: run the pull again`, file.path);
  }
  fs.renameSync(part, blobPath(cache, etag));
  return { resumedBytes, receivedBytes: received };
}

/** The part on disk: kept when it can be a prefix of the file, else deleted (longer than the file, or a bad header). */
async function readPart(d: BlobDownload, part: string): Promise<PartState> {
  const size = statSize(part);
  if (size > 0 && size <= d.file.size) {
    const hasher = newHasher(d.file);
    const head = await hashPrefix(part, size, hasher, d.onVerify);
    if (!(isWeightsFile(d.file.path) && head.length >= MAGIC_BYTES && safetensorsProblem(head, d.file.size) !== null)) {
      d.onProgress?.(size, 0);
      return { bytes: size, hasher, head };
    }
  }
  if (size >= 0) fs.rmSync(part, { force: true });
  return { bytes: 0, hasher: newHasher(d.file), head: Buffer.alloc(0) };
}

/**
 * One request for the rest of the file, appended to the part. Updates `state` as bytes land on disk, so a failure
 * leaves it describing the part exactly. Throws TransientError when the connection ends early.
 */
async function fetchRest(d: BlobDownload, part: string, state: PartState, onReceived: (bytes: number) => void): Promise<void> {
  const { ctx, cache, file } = d;
  const url = resolveUrl(ctx.endpoint, cache.repo, d.commit, file.path);
  const ranged = state.bytes > 0;
  const res = await httpGet(url, { token: ctx.token, signal: ctx.signal, stallMs: ctx.stallMs, headers: ranged ? { Range: `bytes=${state.bytes}-` } : {} });
  if (res.status === 416) {
    // The server holds fewer bytes than the part: the part cannot be a prefix of its file. Start over.
    const from = state.bytes;
    res.body.resume();
    fs.rmSync(part, { force: true });
    Object.assign(state, { bytes: 0, hasher: newHasher(file), head: Buffer.alloc(0) });
    throw new TransientError(`the Hub refused the range from byte ${from} (416)`);
  }
  let restart = false;
  try {
    restart = checkResponse(d, res, state.bytes);
  } catch (err) {
    res.body.resume();
    throw err;
  }
  if (restart) Object.assign(state, { bytes: 0, hasher: newHasher(file), head: Buffer.alloc(0) });
  const fh = await fs.promises.open(part, restart || !ranged ? 'w' : 'a');
  let got = 0;
  let badHead = false;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (state.head.length < MAGIC_BYTES) {
        state.head = Buffer.concat([state.head, chunk.subarray(0, MAGIC_BYTES - state.head.length)]);
        badHead = isWeightsFile(file.path) && state.head.length >= Math.min(MAGIC_BYTES, file.size);
        if (badHead) refuseUnlessSafetensors(d, state.head);
        badHead = false;
      }
      if (state.bytes + chunk.length > file.size) throw corrupt(d, `the Hub sent more than the ${file.size} bytes it lists`);
      await writeAll(fh, chunk);
      state.hasher.update(chunk);
      state.bytes += chunk.length;
      got += chunk.length;
      onReceived(chunk.length);
      d.onProgress?.(state.bytes, got);
    }
    if (state.bytes === file.size) await fh.datasync();
  } catch (err) {
    res.body.destroy();
    throw err;
  } finally {
    await fh.close();
    // Ours and worthless: an empty part, or one whose first bytes prove it is not the file.
    if (state.bytes === 0 || badHead) fs.rmSync(part, { force: true });
  }
  if (state.bytes < file.size) throw new TransientError(`the connection closed after ${state.bytes} of ${file.size} bytes`);
}

/** Status and headers: returns true when the server ignored the range (200) and the file restarts from 0. */
function checkResponse(d: BlobDownload, res: GetResponse, offset: number): boolean {
  const { cache, file } = d;
  if (res.status >= 500 || res.status === 429) throw new TransientError(`HTTP ${res.status}`, res.status);
  if (res.status !== 200 && res.status !== 206) {
    if (res.status >= 400) throw errorForStatus(res.status, headerText(res.headers['x-error-code']), cache.repo, d.commit, file.path);
    throw new HubError('bad-response', cache.repo, `${cache.repo} (${file.path}): the Hub answered HTTP ${res.status} to a download`, file.path, res.status);
  }
  const type = (headerText(res.headers['content-type']) ?? '').toLowerCase();
  if (type.includes('xet')) {
    throw new HubError('not-weights', cache.repo, `${cache.repo} (${file.path}): the Hub offered Xet storage ('${type}') instead of the bytes; simsd downloads over plain HTTP only: try again later, or use a mirror (--endpoint/HF_ENDPOINT)`, file.path);
  }
  if (type.startsWith('text/html') || (isWeightsFile(file.path) && (type.includes('json') || type.startsWith('text/')))) {
    throw new HubError('not-weights', cache.repo, `${cache.repo} (${file.path}): the Hub sent ${type.startsWith('text/html') ? 'an HTML page' : `'${type}'`} instead of the file (a login, error or maintenance page?); nothing was saved: try again later, or check --endpoint/HF_ENDPOINT`, file.path);
  }
  const restart = res.status === 200 && offset > 0;
  const start = res.status === 206 ? contentRangeStart(d, res) : 0;
  if (res.status === 206 && start !== offset) {
    throw new HubError('bad-response', cache.repo, `${cache.repo} (${file.path}): asked for bytes from ${offset}, the Hub sent them from ${start}; the partial file is kept: run the pull again`, file.path);
  }
  const length = Number(headerText(res.headers['content-length']) ?? NaN);
  const expected = file.size - (restart ? 0 : offset);
  if (Number.isFinite(length) && length !== expected) {
    throw new HubError('bad-response', cache.repo, `${cache.repo} (${file.path}): the Hub sends ${length} bytes where the listing says ${expected}; nothing was saved: run the pull again`, file.path);
  }
  return restart;
}

function contentRangeStart(d: BlobDownload, res: GetResponse): number {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headerText(res.headers['content-range']) ?? '');
  if (m === null || (m[3] !== '*' && Number(m[3]) !== d.file.size)) {
    throw new HubError('bad-response', d.cache.repo, `${d.cache.repo} (${d.file.path}): a ranged answer without a usable Content-Range (${headerText(res.headers['content-range'])}); the partial file is kept`, d.file.path);
  }
  return Number(m[1]);
}

function refuseUnlessSafetensors(d: BlobDownload, head: Buffer): void {
  const problem = safetensorsProblem(head, d.file.size);
  if (problem !== null) {
    throw new HubError('not-weights', d.cache.repo, `${d.cache.repo} (${d.file.path}): the Hub sent something that is not a safetensors file: ${problem}; nothing was saved`, d.file.path);
  }
}

function corrupt(d: BlobDownload, detail: string): HubError {
  return new HubError('corrupt', d.cache.repo, `${d.cache.repo} (${d.file.path}): ${detail}; the partial file was deleted: run the pull again`, d.file.path);
}

/** FileHandle.write may write less than asked (a full disk); write the rest or throw. */
async function writeAll(fh: fs.promises.FileHandle, chunk: Buffer): Promise<void> {
  let done = 0;
  while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
}

function statSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch {
    return -1;
  }
}
