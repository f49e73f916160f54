// HTTP plumbing of `simsd serve`: the OpenAI error shape, a size-capped JSON body, bearer-key checks, server-sent
// events. Plain `node:http`: the server has six routes, one body format and one streaming shape, which a framework
// would not shorten; staying on Node's own module adds no dependency to the package and no code to audit.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';

/** Request bodies above this are refused before they are read in full. */
export const MAX_BODY_BYTES = 4 << 20;

/** An answer other than 200, in OpenAI's shape `{"error": {"message", "type", "param", "code"}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get body(): object {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 for a field of the body: says which field and what it must be. */
export function badField(param: string, message: string, code: string | null = 'invalid_value'): ApiError {
  return new ApiError(400, message, param, code);
}

export function sendJson(res: ServerResponse, status: number, body: object, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) return;
  sendJson(res, err.status, err.body, err.headers);
}

/**
 * A body over the cap is still read (and dropped) up to this many times the cap before the 413 goes out: Node closes
 * a connection answered before its request was read, and a client still sending then sees a reset, not the answer.
 */
const DISCARD_FACTOR = 4;

/**
 * The body as JSON, read up to `maxBytes`. A larger one is read to its end and dropped, then answered 413; one that
 * declares or sends more than DISCARD_FACTOR times the cap is answered at once and its connection closed. Malformed
 * JSON is a 400.
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const tooLarge = (close: boolean) => new ApiError(413, `the request body is larger than ${maxBytes} bytes`, null, 'body_too_large', 'invalid_request_error', close ? { connection: 'close' } : {});
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > DISCARD_FACTOR * maxBytes) return Promise.reject(tooLarge(true));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (how: () => void) => { if (!settled) { settled = true; how(); } };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > DISCARD_FACTOR * maxBytes) settle(() => reject(tooLarge(true)));
    });
    req.on('end', () => settle(() => {
      if (size > maxBytes) return reject(tooLarge(false));
      try {
        resolve(parseJson(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    }));
    req.on('error', (err) => settle(() => reject(new ApiError(400, `reading the request body failed (${err.message})`, null, 'bad_body'))));
    req.on('close', () => settle(() => reject(new ApiError(400, 'the request body ended early', null, 'bad_body'))));
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') throw new ApiError(400, 'the request body is empty; send a JSON object', null, 'invalid_json');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ApiError(400, `the request body is not valid JSON (${(e as Error).message})`, null, 'invalid_json');
  }
}

/** True when the request carries `Authorization: Bearer <key>` (compared in constant time). */
export function hasBearer(req: IncomingMessage, key: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (m === null) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1].trim()), digest(key));
}

/** Loopback addresses and `localhost`: the only hosts `simsd serve` binds without an API key. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
}

/**
 * Server-sent events (`data: <json>` lines): headers go out with the first event, so an error found before any
 * output (a prompt beyond the context) is still a plain JSON answer with its status.
 */
export class EventStream {
  constructor(private readonly res: ServerResponse, private readonly headers: Readonly<Record<string, string>>) {}

  get started(): boolean {
    return this.res.headersSent;
  }

  send(payload: object | '[DONE]'): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    if (!this.res.headersSent) {
      this.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...this.headers });
      this.res.flushHeaders();
    }
    this.res.write(`data: ${payload === '[DONE]' ? payload : JSON.stringify(payload)}\n\n`);
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}
