// HTTP GET for the Hub on node:http/node:https rather than the built-in fetch (undici), because resuming needs the
// raw bytes: fetch asks for gzip/br and decodes the body, so its byte offsets are not the offsets a `Range` header
// counts in, and it hides the redirect hops (we drop the token when a redirect leaves the Hub's origin, as the Hub's
// own clients do). Here every request asks for `Accept-Encoding: identity`, follows redirects by hand, treats an idle
// socket as a dropped connection, and uses no keep-alive agent, so a finished or killed pull leaves no socket behind.
import * as http from 'node:http';
import * as https from 'node:https';

export interface GetOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly token?: string;            // sent as `Authorization: Bearer` to the first origin only
  readonly signal?: AbortSignal;
  readonly stallMs: number;           // a socket idle this long counts as a dropped connection
  readonly maxRedirects?: number;     // default 5
}

export interface GetResponse {
  readonly status: number;
  readonly url: string;               // after redirects
  readonly headers: http.IncomingHttpHeaders;
  readonly body: http.IncomingMessage;
}

/** A failure worth another try: the network dropped, stalled or the server had a bad moment (5xx, 429). */
export class TransientError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'TransientError';
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Error codes of a connection that failed or dropped: retried, then reported as 'network'. */
const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'EAI_AGAIN', 'ENOTFOUND', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET', 'EPROTO', 'ECONNCLOSED',
]);

export function isTransient(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

export function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ABORT_ERR');
}

/** GET `url`, following redirects. Resolves once the headers of the final response arrive; the body is unread. */
export async function httpGet(url: string, options: GetOptions): Promise<GetResponse> {
  const origin = new URL(url).origin;
  let current = url;
  for (let hop = 0; hop <= (options.maxRedirects ?? 5); hop++) {
    const sameOrigin = new URL(current).origin === origin;
    const res = await requestOnce(current, {
      'Accept-Encoding': 'identity',
      'User-Agent': 'simsd-pull',
      ...options.headers,
      ...(options.token && sameOrigin ? { Authorization: `Bearer ${options.token}` } : {}),
    }, options);
    const location = res.headers.location;
    if (REDIRECTS.has(res.statusCode ?? 0) && location) {
      res.resume();
      current = new URL(location, current).toString();
      continue;
    }
    return { status: res.statusCode ?? 0, url: current, headers: res.headers, body: res };
  }
  throw new TransientError(`more than ${options.maxRedirects ?? 5} redirects from ${url}`);
}

function requestOnce(url: string, headers: Record<string, string>, options: GetOptions): Promise<http.IncomingMessage> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return Promise.reject(new TransientError(`unsupported URL ${url}`));
  const get = u.protocol === 'https:' ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const req = get(u, { headers, agent: false, signal: options.signal }, resolve);
    req.setTimeout(options.stallMs, () => req.destroy(new TransientError(`no data from ${u.host} for ${Math.round(options.stallMs / 1000)} s`)));
    req.on('error', reject);
  });
}

/** The whole body as text (API answers), capped so a hostile answer cannot fill the memory. */
export async function readText(res: GetResponse, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > maxBytes) {
      res.body.destroy();
      throw new TransientError(`answer from ${res.url} is larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Retries `attempt` on transient failures with exponential backoff; `tries` counts every attempt. */
export async function withRetries<T>(tries: number, backoffMs: number, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransient(err) || i >= tries) throw err;
      await sleep(backoffMs * 2 ** (i - 1), signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(signal?.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
