// The routes of `simsd serve` and one generation from request to answer: check the key, read and check the body,
// queue the request on the engine client (FIFO, bounded: 429 when full), stream or return the text, cancel the
// generation when the client goes away. Requests run one at a time in the engine, so no request ever sees another's
// cache; prefix caches are shared only through identical leading token ids (cacheSlot).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EngineRequestError, QueueFullError, type RequestOptions } from '../engine/client';
import type { GenerationResult } from '../protocol/messages';
import type { CancellationLike, PromptSpec, Request, StrategyName } from '../protocol/request';
import { ApiError, EventStream, hasBearer, readJsonBody, sendError, sendJson } from './http';
import type { ServerMetrics } from './metrics';
import { answerHead, completionAnswer, completionChunk, cutAtStop, StreamedText, usage, type OpenAiFinish } from './openai';
import { parseChat, parseCompletion, type Job, type ModelLimits } from './validate';

/** What the server needs of the engine client (engine/client.ts EngineClient, FIFO). */
export interface ServingEngine {
  request(request: Request, options?: RequestOptions): Promise<GenerationResult | null>;
  readonly queueDepth: number;
  readonly inFlight: boolean;
  readonly queueFull: boolean;
}

export interface HandlerOptions {
  readonly limits: ModelLimits;
  readonly strategy: StrategyName | 'auto';
  readonly apiKey: string | null;             // null: no key asked
  readonly maxBodyBytes: number;
  readonly created: number;                   // the model's `created` in /v1/models (server start, seconds)
  readonly log: (line: string) => void;
}

/** Prefix-cache slots: requests hash into this many engine file keys. */
export const CACHE_SLOTS = 32;
/** Characters of a prompt's start that pick its slot: about the first 8–10 blocks of code or prose. */
export const SLOT_KEY_CHARS = 128;

/**
 * The engine file key (prefix cache) of a prompt. The engine keeps, per key, the longest block-aligned run of leading
 * ids a new prompt shares with the cache's last prompt and output (exact for SDAR: block-causal attention makes a
 * block's K/V depend only on the blocks before it), so a key only decides which earlier request a prompt may reuse;
 * a wrong guess costs a re-prefill, never a wrong answer. Prompts that start alike (a file's head sent again with more
 * of its text, the next turn of a chat: same system and first user message) land on the same key; the slot count
 * bounds the caches, and the engine's memory budget evicts the least recently used.
 */
export function cacheSlot(prompt: PromptSpec): string {
  const head = prompt.kind === 'messages'
    ? prompt.messages.slice(0, 2).map((m) => `${m.role}\u0000${m.content.slice(0, SLOT_KEY_CHARS)}`).join('\u0001')
    : prompt.kind === 'text' ? `${prompt.suffix === undefined ? 'text' : 'fim'}\u0000${prompt.prefix.slice(0, SLOT_KEY_CHARS)}` : '';
  let h = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < head.length; i++) h = Math.imul(h ^ head.charCodeAt(i), 0x01000193);
  return `serve:${prompt.kind}:${(h >>> 0) % CACHE_SLOTS}`;
}

interface RunningJob {
  cancel(): void;
  readonly done: Promise<void>;
}

const ROUTES: Readonly<Record<string, string>> = {
  '/v1/completions': 'POST', '/v1/chat/completions': 'POST', '/v1/models': 'GET', '/health': 'GET', '/metrics': 'GET',
};

export class Handler {
  private closing = false;
  private readonly jobs = new Set<RunningJob>();

  constructor(private readonly engine: ServingEngine, private readonly options: HandlerOptions, private readonly metrics: ServerMetrics) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const started = performance.now();
    res.setHeader('server', 'simsd');
    res.on('close', () => {
      const status = res.writableFinished ? res.statusCode : 499;
      this.metrics.request(path, status);
      this.options.log(`${req.method} ${path} ${status} ${(performance.now() - started).toFixed(0)} ms`);
    });
    this.route(req, res, path).catch((err: unknown) => {
      const api = err instanceof ApiError ? err : new ApiError(500, `internal error: ${(err as Error).message}`);
      if (api.status >= 500) this.options.log(`${req.method} ${path}: ${api.message}`);
      sendError(res, api);
      if (api.headers.connection === 'close') res.once('finish', () => req.socket.destroy());
    });
  }

  /** Stops taking requests; waits up to `graceMs` for those running, then cancels them and waits for their answers. */
  async drain(graceMs: number): Promise<void> {
    this.closing = true;
    const all = () => Promise.all([...this.jobs].map((j) => j.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all().then(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(true), graceMs); })]);
    clearTimeout(timer);
    if (timedOut) {
      for (const j of this.jobs) j.cancel();
      await all();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = Object.hasOwn(ROUTES, path) ? ROUTES[path] : path.startsWith('/v1/models/') ? 'GET' : null;
    if (method === null) throw new ApiError(404, `no route ${path}; this server answers ${Object.keys(ROUTES).join(', ')}`, null, 'not_found');
    if (req.method !== method) throw new ApiError(405, `${path} takes ${method}, not ${req.method}`, null, 'method_not_allowed', 'invalid_request_error', { allow: method });
    if (path === '/health') {
      sendJson(res, this.closing ? 503 : 200, { status: this.closing ? 'stopping' : 'ok', model: this.options.limits.modelId, queue: this.engine.queueDepth, inFlight: this.engine.inFlight });
      return;
    }
    if (this.options.apiKey !== null && !hasBearer(req, this.options.apiKey)) {
      throw new ApiError(401, 'a valid API key is required: send Authorization: Bearer <key>', null, 'invalid_api_key', 'invalid_request_error', { 'www-authenticate': 'Bearer' });
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(this.metrics.render(this.engine));
      return;
    }
    if (path === '/v1/models' || path.startsWith('/v1/models/')) return this.models(res, path);
    if (this.closing) throw new ApiError(503, 'the server is stopping', null, 'stopping', 'server_error', { connection: 'close' });
    const body = await readJsonBody(req, this.options.maxBodyBytes);
    const job = path === '/v1/chat/completions' ? parseChat(body, this.options.limits) : parseCompletion(body, this.options.limits);
    await this.run(job, res);
  }

  private models(res: ServerResponse, path: string): void {
    // max_model_len as SGLang reports it: clients keep max_tokens within the context with it.
    const model = { id: this.options.limits.modelId, object: 'model', created: this.options.created, owned_by: 'simsd', max_model_len: this.options.limits.contextTokens };
    if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: [model] });
    const id = decodeURIComponent(path.slice('/v1/models/'.length));
    if (id !== model.id) throw new ApiError(404, `the model ${JSON.stringify(id)} does not exist here; this server has ${model.id}`, 'model', 'model_not_found');
    sendJson(res, 200, model);
  }

  /** One generation: queued, run, answered whole or streamed; cancelled when the client goes away. */
  private async run(job: Job, res: ServerResponse): Promise<void> {
    if (this.engine.queueFull) {
      throw new ApiError(429, `the server is busy (${this.engine.queueDepth} requests waiting); retry later`, null, 'queue_full', 'rate_limit_error', { 'retry-after': '1' });
    }
    const token = cancellation();
    let gone = false;
    const onClose = () => { if (!res.writableFinished) { gone = true; token.cancel(); } };
    res.on('close', onClose);
    let finished: () => void = () => undefined;
    const running: RunningJob = { cancel: () => token.cancel(), done: new Promise<void>((r) => { finished = r; }) };
    this.jobs.add(running);
    const head = answerHead(job.endpoint, this.options.limits.modelId, job.layout);
    const headers = { 'x-simsd-prompt-layout': job.layout };
    const events = job.stream ? new EventStream(res, headers) : null;
    const streamed = new StreamedText(job.stop);
    const send = (delta: string) => {
      if (events === null || delta === '') return;
      events.send(completionChunk(job.endpoint, head, delta, null, undefined, !events.started));
    };
    try {
      const request: Request = {
        kind: 'generate', fileKey: cacheSlot(job.prompt), prompt: job.prompt,
        params: {
          strategy: this.options.strategy, maxTokens: job.maxTokens, temperature: job.temperature,
          ...(job.topK !== undefined ? { topK: job.topK } : {}), ...(job.seed !== undefined ? { seed: job.seed } : {}),
          ...(job.stop.length > 0 ? { stopStrings: job.stop } : {}),
        },
      };
      let result: GenerationResult | null;
      try {
        result = await this.engine.request(request, { cancellation: token, onProgress: events === null ? undefined : (text) => send(streamed.next(text)) });
      } catch (err) {
        if (err instanceof QueueFullError) throw new ApiError(429, err.message, null, 'queue_full', 'rate_limit_error', { 'retry-after': '1' });
        if (err instanceof EngineRequestError) throw new ApiError(400, err.message, null, /context/.test(err.message) ? 'context_length_exceeded' : 'invalid_request');
        throw new ApiError(500, (err as Error).message, null, 'engine_error');
      }
      if (result === null) {
        this.metrics.cancellation();
        if (gone) return;
        throw new ApiError(503, this.closing ? 'the server is stopping; the generation was cancelled' : 'the engine is not available', null, 'unavailable');
      }
      this.metrics.generation(result);
      const cut = cutAtStop(result.text, job.stop);
      const finish: OpenAiFinish = result.finishReason === 'length' && !cut.stopped ? 'length' : 'stop';
      const counts = usage(result.prefix.promptTokens, result.tokenIds.length);
      if (events === null) return sendJson(res, 200, completionAnswer(job.endpoint, head, cut.text, finish, counts), headers);
      const rest = streamed.finish(result.text);
      if (rest !== '' || (job.endpoint === 'chat' && !events.started)) events.send(completionChunk(job.endpoint, head, rest, null, undefined, !events.started));
      events.send(completionChunk(job.endpoint, head, '', finish, counts));
      events.send('[DONE]');
      events.end();
    } catch (err) {
      if (events === null || !events.started) throw err;
      // Headers are out: the error goes as the stream's last event.
      const api = err instanceof ApiError ? err : new ApiError(500, (err as Error).message);
      events.send(api.body);
      events.end();
    } finally {
      res.off('close', onClose);
      this.jobs.delete(running);
      finished();
    }
  }
}

/** A requester's cancellation in VS Code's token shape, which the engine client takes. */
function cancellation(): CancellationLike & { cancel(): void } {
  const listeners: (() => void)[] = [];
  const token = {
    isCancellationRequested: false,
    onCancellationRequested: (l: () => void) => { listeners.push(l); },
    cancel: () => {
      if (token.isCancellationRequested) return;
      token.isCancellationRequested = true;
      for (const l of listeners) l();
    },
  };
  return token;
}
