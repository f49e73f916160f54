// The two Hub API calls a pull makes: the revision's commit, and the file listing at that commit (with sizes and
// hashes). Every value that later becomes part of a path (commit, hashes, file names) is checked here, so a hostile
// or broken answer cannot write outside the cache.
import { badResponse, errorForStatus, HubError } from './errors';
import { httpGet, isTransient, readText, TransientError, withRetries, type GetResponse } from './http';

export interface HubContext {
  readonly endpoint: string;          // no trailing slash: https://huggingface.co
  readonly token?: string;
  readonly signal?: AbortSignal;
  readonly stallMs: number;
  readonly tries: number;
  readonly backoffMs: number;
}

export interface RepoFile {
  readonly path: string;
  readonly size: number;                                           // bytes of the file itself
  readonly oid: string;                                            // git blob sha1 (of the pointer, for LFS files)
  readonly lfs?: { readonly sha256: string; readonly size: number };
}

/** The blob name in the cache: sha256 for LFS files, the git blob sha1 otherwise (as both Hub clients name it). */
export function etagOf(file: RepoFile): string {
  return file.lfs?.sha256 ?? file.oid;
}

const MAX_API_BYTES = 64 << 20;
const MAX_PAGES = 10_000;
const SHA1 = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export function resolveUrl(endpoint: string, repo: string, commit: string, path: string): string {
  return `${endpoint}/${repo}/resolve/${commit}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** `GET /api/models/{repo}/revision/{rev}` → the commit the revision points at. */
export async function resolveCommit(ctx: HubContext, repo: string, revision: string): Promise<string> {
  const url = `${ctx.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
  const { json } = await getJson(ctx, url, repo, revision);
  const sha = isRecord(json) ? json.sha : undefined;
  if (typeof sha !== 'string' || !SHA1.test(sha)) throw badResponse(repo, `the revision answer has no 40-hex "sha" (got ${JSON.stringify(sha)})`);
  return sha;
}

/** `GET /api/models/{repo}/tree/{commit}?recursive=true`, every page (`Link: <…>; rel="next"`): the repo's files. */
export async function listFiles(ctx: HubContext, repo: string, commit: string): Promise<RepoFile[]> {
  const files: RepoFile[] = [];
  let url: string | null = `${ctx.endpoint}/api/models/${repo}/tree/${commit}?recursive=true&expand=false`;
  for (let page = 0; url !== null; page++) {
    if (page >= MAX_PAGES) throw badResponse(repo, `the file listing has more than ${MAX_PAGES} pages`);
    const answer: { json: unknown; res: GetResponse } = await getJson(ctx, url, repo, commit);
    if (!Array.isArray(answer.json)) throw badResponse(repo, 'the file listing is not a JSON array');
    for (const entry of answer.json) {
      const file = parseEntry(repo, entry);
      if (file !== null) files.push(file);
    }
    url = nextPage(answer.res, url);
  }
  return files;
}

function parseEntry(repo: string, entry: unknown): RepoFile | null {
  if (!isRecord(entry) || entry.type === 'directory') return null;
  const { path, size, oid, lfs } = entry;
  if (entry.type !== 'file' || typeof path !== 'string' || !isSafePath(path)) throw badResponse(repo, `a listing entry has no usable path: ${JSON.stringify(entry).slice(0, 200)}`);
  if (!isSize(size) || typeof oid !== 'string' || !SHA1.test(oid)) throw badResponse(repo, 'a listing entry has no size or 40-hex oid', path);
  if (lfs === undefined || lfs === null) return { path, size, oid };
  const sha256 = isRecord(lfs) ? lfs.oid : undefined;
  const lfsSize = isRecord(lfs) ? lfs.size : undefined;
  if (typeof sha256 !== 'string' || !SHA256.test(sha256) || !isSize(lfsSize)) throw badResponse(repo, 'an LFS entry has no 64-hex sha256 or size', path);
  return { path, size: lfsSize, oid, lfs: { sha256, size: lfsSize } };
}

/** A relative path with no empty, `.` or `..` part and no backslash or NUL. */
export function isSafePath(path: string): boolean {
  return path.length > 0 && path.length <= 1024 && !/[\\\0]/.test(path)
    && path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `rel="next"` target of a Link header, resolved against the page's URL; null on the last page. */
function nextPage(res: GetResponse, url: string): string | null {
  const link = res.headers.link;
  if (typeof link !== 'string') return null;
  for (const part of link.split(',')) {
    const m = /<([^>]*)>\s*;(?:.*;)?\s*rel="?next"?/i.exec(part.trim());
    if (m) return new URL(m[1], url).toString();
  }
  return null;
}

/** GET + status mapping + JSON, with retries on transient failures. */
async function getJson(ctx: HubContext, url: string, repo: string, revision: string): Promise<{ json: unknown; res: GetResponse }> {
  return withHubErrors(ctx, repo, undefined, () => withRetries(ctx.tries, ctx.backoffMs, ctx.signal, async () => {
    const res = await httpGet(url, { token: ctx.token, signal: ctx.signal, stallMs: ctx.stallMs, headers: { Accept: 'application/json' } });
    if (res.status >= 500 || res.status === 429) {
      res.body.resume();
      throw new TransientError(`HTTP ${res.status}`, res.status);
    }
    if (res.status !== 200) {
      res.body.resume();
      throw errorForStatus(res.status, headerText(res.headers['x-error-code']), repo, revision);
    }
    const text = await readText(res, MAX_API_BYTES);
    try {
      return { json: JSON.parse(text) as unknown, res };
    } catch {
      throw badResponse(repo, `${url} did not answer JSON (it starts ${JSON.stringify(text.slice(0, 60))}); is the endpoint a Hugging Face Hub?`);
    }
  }));
}

export function headerText(v: string | string[] | undefined): string | null {
  return typeof v === 'string' ? v : Array.isArray(v) && v.length > 0 ? v[0] : null;
}

/** Runs `work`; a transient failure that outlived its retries becomes a HubError ('network', or the 5xx status). */
export async function withHubErrors<T>(ctx: HubContext, repo: string, file: string | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isTransient(err)) throw err;
    const status = err instanceof TransientError ? err.status : undefined;
    const f = file === undefined ? '' : ` (${file})`;
    if (status !== undefined) {
      throw new HubError('bad-response', repo, `${repo}${f}: the Hub answered HTTP ${status} ${ctx.tries} times; try again later`, file, status);
    }
    const why = (err as Error).message || (err as NodeJS.ErrnoException).code || 'connection failed';
    throw new HubError('network', repo, `${repo}${f}: cannot reach ${ctx.endpoint} (${why}) after ${ctx.tries} tries; check the connection, or set HF_ENDPOINT to a mirror, and run the pull again to resume`, file);
  }
}
