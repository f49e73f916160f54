// Request bodies of `/v1/completions` and `/v1/chat/completions`, checked field by field into one Job. Every refusal
// is a 400 naming the field (`param`) and what it must be. Unknown fields are ignored, as OpenAI-compatible servers do
// (clients send `user`, `stream_options`, …); known fields we cannot honour are refused rather than silently dropped.
import type { ChatTurn, PromptSpec } from '../protocol/request';
import { ApiError, badField } from './http';

/** OpenAI allows up to 4 stop sequences. */
export const MAX_STOP_STRINGS = 4;
/** Completions without `max_tokens` generate 16 tokens, as OpenAI's legacy completions do. */
export const DEFAULT_COMPLETION_TOKENS = 16;
/** Sampling candidates (the sampling graph's top-k). */
const MAX_TOP_K = 64;

export type Endpoint = 'completions' | 'chat';

/** How a completion's prompt was built, said in the `x-simsd-prompt-layout` header and the `system_fingerprint`. */
export type PromptLayout = 'text' | 'fim' | 'prefix-only' | 'chat';

/** One generation request, checked. */
export interface Job {
  readonly endpoint: Endpoint;
  readonly prompt: PromptSpec;                // kind 'text' or 'messages'
  readonly layout: PromptLayout;
  readonly maxTokens: number;
  readonly temperature: number;               // 0: greedy (the default here, unlike OpenAI's 1)
  readonly topK: number | undefined;
  readonly seed: number | undefined;
  readonly stop: readonly string[];
  readonly stream: boolean;
}

/** What the loaded model allows. */
export interface ModelLimits {
  readonly modelId: string;
  readonly contextTokens: number;
  readonly fim: boolean;                      // the target can infill (its manifest says so, and it has the FIM ids)
}

type Body = Record<string, unknown>;

export function parseCompletion(raw: unknown, limits: ModelLimits): Job {
  const body = common(raw, limits);
  if (body.echo !== undefined && body.echo !== null && body.echo !== false) throw badField('echo', 'echo is not supported', 'unsupported');
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== 1) throw badField('best_of', 'best_of must be 1', 'unsupported');
  if (!isOff(body.logprobs)) throw badField('logprobs', 'logprobs are not supported', 'unsupported');
  const prefix = promptText(body.prompt);
  const suffix = optionalString(body, 'suffix');
  // An empty suffix is no suffix. With one, FIM when the target can infill; else the prefix alone, said in the layout.
  const layout: PromptLayout = suffix === undefined || suffix === '' ? 'text' : limits.fim ? 'fim' : 'prefix-only';
  const prompt: PromptSpec = layout === 'fim' ? { kind: 'text', prefix, suffix } : { kind: 'text', prefix };
  return { ...options(body, limits, 'max_tokens', DEFAULT_COMPLETION_TOKENS), endpoint: 'completions', prompt, layout };
}

export function parseChat(raw: unknown, limits: ModelLimits): Job {
  const body = common(raw, limits);
  if (!isOff(body.logprobs) || !isOff(body.top_logprobs)) throw badField('logprobs', 'logprobs are not supported', 'unsupported');
  for (const name of ['tools', 'functions']) {
    const v = body[name];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) throw badField(name, `${name} are not supported`, 'unsupported');
  }
  const format = body.response_format;
  if (format !== undefined && format !== null && !(isRecord(format) && format.type === 'text')) {
    throw badField('response_format', 'only the text response format is supported', 'unsupported');
  }
  const messages = chatMessages(body.messages);
  const name = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? 'max_completion_tokens' : 'max_tokens';
  // Without a budget, chat may use half the context (as Generate Code in the editor); a longer prompt then asks for less.
  const fallback = Math.max(1, Math.floor(limits.contextTokens / 2));
  return { ...options(body, limits, name, fallback), endpoint: 'chat', prompt: { kind: 'messages', messages }, layout: 'chat' };
}

/** The body is a JSON object naming our model; n, penalties and logit_bias are at their neutral values. */
function common(raw: unknown, limits: ModelLimits): Body {
  if (!isRecord(raw)) throw new ApiError(400, 'the request body must be a JSON object', null, 'invalid_json');
  if (raw.model === undefined || raw.model === null) throw badField('model', `model is required (this server has ${limits.modelId})`, 'missing_field');
  if (typeof raw.model !== 'string') throw badField('model', 'model must be a string', 'invalid_type');
  if (raw.model !== limits.modelId) throw badField('model', `the model ${JSON.stringify(raw.model)} does not exist here; this server has ${limits.modelId}`, 'model_not_found');
  if (raw.n !== undefined && raw.n !== null && raw.n !== 1) throw badField('n', 'n must be 1 (one choice per request)', 'unsupported');
  for (const name of ['presence_penalty', 'frequency_penalty']) {
    const v = raw[name];
    if (v !== undefined && v !== null && v !== 0) throw badField(name, `${name} is not supported (only 0)`, 'unsupported');
  }
  const bias = raw.logit_bias;
  if (bias !== undefined && bias !== null && !(isRecord(bias) && Object.keys(bias).length === 0)) throw badField('logit_bias', 'logit_bias is not supported', 'unsupported');
  return raw;
}

/** The decoding options both endpoints share. */
function options(body: Body, limits: ModelLimits, tokensName: string, fallback: number): Omit<Job, 'endpoint' | 'prompt' | 'layout'> {
  const maxTokens = optionalInteger(body, tokensName, 1, limits.contextTokens, `the model's context of ${limits.contextTokens} tokens`) ?? Math.min(fallback, limits.contextTokens);
  const temperature = optionalNumber(body, 'temperature', 0, 2) ?? 0;
  const topP = optionalNumber(body, 'top_p', 0, 1);
  if (topP !== undefined && topP !== 1) throw badField('top_p', 'top_p other than 1 is not supported: sampling keeps the top_k (default 64) most likely tokens; set top_p to 1 or leave it out', 'unsupported');
  const topK = optionalInteger(body, 'top_k', 1, MAX_TOP_K, String(MAX_TOP_K));
  const seed = optionalInteger(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'a safe integer');
  const stream = body.stream === undefined || body.stream === null ? false : body.stream;
  if (typeof stream !== 'boolean') throw badField('stream', 'stream must be true or false', 'invalid_type');
  return {
    maxTokens, temperature, topK, stream, stop: stopStrings(body.stop),
    // The decoder's noise seed is 32-bit; any integer maps onto it.
    seed: seed === undefined ? undefined : ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32,
  };
}

/** A string, or an array of one string. Token arrays and batches are refused. */
function promptText(v: unknown): string {
  if (v === undefined || v === null) throw badField('prompt', 'prompt is required', 'missing_field');
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    if (v.length === 1 && typeof v[0] === 'string') return v[0];
    if (v.length > 0 && v.every((x) => typeof x === 'number' || Array.isArray(x))) throw badField('prompt', 'token-id prompts are not supported; send the prompt as text', 'unsupported');
    if (v.length > 1 && v.every((x) => typeof x === 'string')) throw badField('prompt', 'batched prompts are not supported; send one prompt per request', 'unsupported');
  }
  throw badField('prompt', 'prompt must be a string (or an array of one string)', 'invalid_type');
}

function stopStrings(v: unknown): readonly string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw badField('stop', 'stop must be a string or an array of strings', 'invalid_type');
  if (list.length > MAX_STOP_STRINGS) throw badField('stop', `at most ${MAX_STOP_STRINGS} stop strings`);
  if (list.some((s) => s === '')) throw badField('stop', 'stop strings must not be empty');
  return list as string[];
}

const ROLES: Readonly<Record<string, ChatTurn['role']>> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant' };

/** Chat messages: roles system (developer), user, assistant; content a string or text parts. */
function chatMessages(v: unknown): ChatTurn[] {
  if (v === undefined || v === null) throw badField('messages', 'messages is required', 'missing_field');
  if (!Array.isArray(v) || v.length === 0) throw badField('messages', 'messages must be a non-empty array', 'invalid_type');
  return v.map((m, i) => {
    const param = `messages[${i}]`;
    if (!isRecord(m)) throw badField(param, `${param} must be an object with role and content`, 'invalid_type');
    const role = typeof m.role === 'string' && Object.hasOwn(ROLES, m.role) ? ROLES[m.role] : null;
    if (role === null) throw badField(`${param}.role`, `${param}.role must be system, user or assistant`, typeof m.role === 'string' ? 'unsupported' : 'invalid_type');
    return { role, content: messageContent(m.content, role, `${param}.content`) };
  });
}

function messageContent(v: unknown, role: ChatTurn['role'], param: string): string {
  if (typeof v === 'string') return v;
  if ((v === null || v === undefined) && role === 'assistant') return '';
  if (Array.isArray(v) && v.every((p) => isRecord(p) && p.type === 'text' && typeof p.text === 'string')) {
    return v.map((p) => (p as { text: string }).text).join('');
  }
  throw badField(param, `${param} must be a string or an array of text parts`, 'invalid_type');
}

function optionalString(body: Body, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badField(name, `${name} must be a string`, 'invalid_type');
  return v;
}

function optionalNumber(body: Body, name: string, min: number, max: number): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badField(name, `${name} must be a number`, 'invalid_type');
  if (v < min || v > max) throw badField(name, `${name} must be in [${min}, ${max}], got ${v}`);
  return v;
}

function optionalInteger(body: Body, name: string, min: number, max: number, maxText: string): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw badField(name, `${name} must be an integer`, 'invalid_type');
  if (v < min || v > max) throw badField(name, `${name} must be at least ${min} and at most ${maxText}, got ${v}`);
  return v;
}

/** logprobs absent, null, false or 0. */
function isOff(v: unknown): boolean {
  return v === undefined || v === null || v === false || v === 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
