// RemoteClient: the completion path's model call sent to an OpenAI-compatible server (`simsd serve`, SGLang,
// LMDeploy) instead of the local engine. Same record in (`Request`), same result out (`GenerationResult`), so gating,
// debounce, the suggestion cache, stream reuse and post-processing are the local ones. Streams the answer, aborts the
// HTTP request when the requester cancels, and sends FIM through `suffix` only to servers known to honour it (our own
// `simsd serve`): SGLang builds a FIM prompt only when started with a completion template, and LMDeploy ignores
// `suffix`, so they get the text before the cursor alone. Plain `fetch` (Node's undici): a streamed POST and an
// AbortSignal are all this needs, and the `openai` package would add a dependency for the same two calls.
import { textAfterCursor, textBeforeCursor } from '../completion/context';
import type { GenerationResult, GenerationStats } from '../protocol/messages';
import { generateCodeMessage, type CancellationLike, type Request } from '../protocol/request';
import { errorMessage, feedEvents, firstChoice, usageOf } from './openai';

export type RemoteServer = 'simsd' | 'sglang' | 'lmdeploy' | 'openai-compatible';

export interface RemoteConfig {
  readonly url: string;                   // e.g. http://gpu-box:8000 (with or without /v1)
  readonly model: string;                 // '' = the server's first model
  readonly apiKey?: string;
  readonly fim: 'auto' | 'on' | 'off';    // auto: on for servers known to honour `suffix`
  readonly timeoutMs?: number;            // one request, default 60 s
}

/** What connecting found: the model to ask for, the kind of server, whether FIM is sent, the round-trip time. */
export interface RemoteReady {
  readonly baseUrl: string;
  readonly model: string;
  readonly server: RemoteServer;
  readonly fim: boolean;
  readonly latencyMs: number;
  readonly contextTokens: number | null;  // max_model_len, when the server reports it (simsd serve, SGLang)
}

type Fetch = typeof fetch;

export class RemoteClient {
  private constructor(readonly ready: RemoteReady, private readonly config: RemoteConfig, private readonly fetchImpl: Fetch) {}

  /** Asks `GET /v1/models`: it checks the URL and the key, names the model, and tells which server this is. */
  static async connect(config: RemoteConfig, fetchImpl: Fetch = fetch): Promise<RemoteClient> {
    const baseUrl = `${config.url.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1`;
    const started = performance.now();
    const res = await send(fetchImpl, `${baseUrl}/models`, { headers: headers(config) }, config.timeoutMs ?? 10_000);
    const body = await res.json().catch(() => null) as { data?: { id?: unknown; owned_by?: unknown; max_model_len?: unknown }[] } | null;
    const models = Array.isArray(body?.data) ? body.data.filter((m) => typeof m.id === 'string') : [];
    if (models.length === 0) throw new Error(`${baseUrl}/models lists no model: is this an OpenAI-compatible server?`);
    const chosen = config.model === '' ? models[0] : models.find((m) => m.id === config.model);
    if (chosen === undefined) throw new Error(`the server at ${baseUrl} has no model ${config.model} (it has ${models.map((m) => m.id).join(', ')})`);
    const server = serverKind(String(chosen.owned_by ?? ''), res.headers.get('server') ?? '');
    const fim = config.fim === 'on' || (config.fim === 'auto' && server === 'simsd');
    const contextTokens = typeof chosen.max_model_len === 'number' && chosen.max_model_len > 0 ? chosen.max_model_len : null;
    return new RemoteClient({ baseUrl, model: String(chosen.id), server, fim, latencyMs: performance.now() - started, contextTokens }, config, fetchImpl);
  }

  /** Resolves with the result, or null when cancelled; a warm-up has nothing to warm on a remote server. */
  async request(request: Request, options: { cancellation?: CancellationLike; onProgress?: (text: string) => void } = {}): Promise<GenerationResult | null> {
    if (request.kind === 'warmup') return null;
    const p = request.params;
    // As the local engine does: the output gets at most half a known context, leaving the rest to the prompt.
    const maxTokens = this.ready.contextTokens === null ? p.maxTokens : Math.min(p.maxTokens, Math.floor(this.ready.contextTokens / 2));
    const common = {
      model: this.ready.model, max_tokens: maxTokens, temperature: p.temperature ?? 0, stream: true,
      ...(p.seed !== undefined ? { seed: p.seed } : {}),
      ...(p.stopAtLineEnd ? { stop: ['\n'] } : {}),
      stream_options: { include_usage: true },
    };
    let path: string;
    let body: object;
    switch (request.prompt.kind) {
      case 'completion': {
        const c = request.prompt.context;
        const suffix = this.ready.fim ? textAfterCursor(c) : '';
        path = '/completions';
        // Without the server's tokenizer, a known context is kept by characters: 2 per token is below what code
        // averages (≈ 3), so the prompt fits; the cut is at a line start, keeping the lines nearest the cursor.
        const room = this.ready.contextTokens === null ? Infinity : 2 * (this.ready.contextTokens - maxTokens);
        const kept = suffix.slice(0, Math.max(0, room / 4));
        body = { ...common, prompt: tail(textBeforeCursor(c), room - kept.length), ...(kept !== '' ? { suffix: kept } : {}) };
        break;
      }
      case 'chat':
        path = '/chat/completions';
        body = { ...common, messages: [{ role: 'user', content: generateCodeMessage(request.prompt.instruction, request.prompt.context, request.prompt.languageId) }] };
        break;
      default:
        throw new Error(`a ${request.prompt.kind} prompt cannot go to a remote server`);
    }
    const abort = new AbortController();
    if (options.cancellation?.isCancellationRequested) return null;
    options.cancellation?.onCancellationRequested(() => abort.abort());
    const started = performance.now();
    try {
      const res = await send(this.fetchImpl, this.ready.baseUrl + path, {
        method: 'POST', headers: { ...headers(this.config), 'content-type': 'application/json' }, body: JSON.stringify(body), signal: abort.signal,
      }, this.config.timeoutMs ?? 60_000);
      const { text, finishReason, usage } = await readStream(res, options.onProgress);
      return this.result(text, finishReason, usage, performance.now() - started);
    } catch (err) {
      if (abort.signal.aborted) return null;
      throw err;
    }
  }

  private result(text: string, finishReason: string | null, usage: { promptTokens: number; completionTokens: number } | null, ms: number): GenerationResult {
    const newTokens = usage?.completionTokens ?? 0;
    const stats: GenerationStats = {
      strategy: 'remote', newTokens, targetForwards: 0, draftForwards: 0, targetRows: 0, draftRows: 0, cleanPasses: 0,
      foldedCleanPasses: 0, verifications: 0, acceptLength: null, draftedTokens: 0, matchedTokens: 0, matchRate: null,
      targetForwardsPerToken: 0, draftForwardsPerToken: 0, prefillTokens: usage?.promptTokens ?? 0, prefillMs: 0,
      decodeMs: ms, tokPerS: ms > 0 ? (1000 * newTokens) / ms : 0,
    };
    return {
      id: 0, text, tokenIds: [], finishReason: finishReason === 'length' ? 'length' : 'stop', stats, engineMs: ms,
      prefix: { promptTokens: usage?.promptTokens ?? 0, reusedTokens: 0, prefilledTokens: usage?.promptTokens ?? 0, prefillMs: 0 },
    };
  }
}

/** The end of `text` within `maxChars`, starting at a line start when it has to be cut. */
function tail(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.slice(text.length - Math.max(0, maxChars));
  const nl = cut.indexOf('\n');
  return nl < 0 ? cut : cut.slice(nl + 1);
}

function headers(config: RemoteConfig): Record<string, string> {
  return config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {};
}

/** `owned_by` names our server and SGLang; LMDeploy says "lmdeploy"; anything else is a generic server. */
function serverKind(ownedBy: string, serverHeader: string): RemoteServer {
  const s = `${ownedBy} ${serverHeader}`.toLowerCase();
  return s.includes('simsd') ? 'simsd' : s.includes('sglang') ? 'sglang' : s.includes('lmdeploy') ? 'lmdeploy' : 'openai-compatible';
}

/** fetch with a time limit; an HTTP error becomes one line naming the status and the server's message. */
async function send(fetchImpl: Fetch, url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetchImpl(url, { ...init, signal });
  } catch (err) {
    if (init.signal?.aborted) throw err;
    const why = timeout.aborted ? `no answer within ${timeoutMs / 1000} s` : ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
    throw new Error(`cannot reach ${url}: ${why}`);
  }
  if (!res.ok) {
    const hint = res.status === 401 || res.status === 403 ? ' (set the key with "SimSD: Set Remote API Key")' : '';
    throw new Error(`the server answered ${res.status} to ${url}: ${errorMessage(await res.text())}${hint}`);
  }
  return res;
}

/** Reads a streamed (or, from a server that ignores `stream`, a plain JSON) answer. */
async function readStream(res: Response, onProgress?: (text: string) => void) {
  let text = '';
  let finishReason: string | null = null;
  let usage: ReturnType<typeof usageOf> = null;
  const take = (payload: unknown) => {
    const choice = firstChoice(payload);
    if (choice !== null) {
      text += choice.text;
      finishReason = choice.finishReason ?? finishReason;
      if (choice.text !== '') onProgress?.(text);
    }
    usage = usageOf(payload) ?? usage;
  };
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const body = await res.json() as unknown;
    take(body);
    return { text, finishReason, usage };
  }
  const decoder = new TextDecoder();
  let buffer = '';
  let done = false;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer = feedEvents(buffer + decoder.decode(chunk, { stream: true }), take, () => { done = true; });
    if (done) break;
  }
  return { text, finishReason, usage };
}
