// The pure parts of `simsd serve`: request bodies → Job (defaults, FIM or prefix-only, refusals naming the field),
// the streamed deltas (held-back stop-string starts and unfinished characters), the stop cut, cache slots, loopback
// hosts and the Prometheus text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cacheSlot, CACHE_SLOTS, SLOT_KEY_CHARS } from '../../src/server/handler';
import { ApiError, isLoopback } from '../../src/server/http';
import { ServerMetrics } from '../../src/server/metrics';
import { completionChunk, cutAtStop, StreamedText } from '../../src/server/openai';
import { DEFAULT_COMPLETION_TOKENS, parseChat, parseCompletion, type ModelLimits } from '../../src/server/validate';
import type { GenerationResult } from '../../src/protocol/messages';

const LIMITS: ModelLimits = { modelId: 'm', contextTokens: 256, fim: true };

function refused(run: () => unknown, param: string | null, pattern: RegExp): void {
  assert.throws(run, (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === param && pattern.test(e.message));
}

test('completions: defaults, a one-string array, FIM when the model infills, else prefix-only; an empty suffix is none', () => {
  const job = parseCompletion({ model: 'm', prompt: 'def f():' }, LIMITS);
  assert.deepEqual({ ...job }, {
    endpoint: 'completions', prompt: { kind: 'text', prefix: 'def f():' }, layout: 'text', maxTokens: DEFAULT_COMPLETION_TOKENS,
    temperature: 0, topK: undefined, seed: undefined, stop: [], stream: false,
  });
  assert.deepEqual(parseCompletion({ model: 'm', prompt: ['x'], suffix: 'y', stop: 'z', stream: true, top_p: 1, n: 1, seed: -1 }, LIMITS), {
    endpoint: 'completions', prompt: { kind: 'text', prefix: 'x', suffix: 'y' }, layout: 'fim', maxTokens: 16, temperature: 0,
    topK: undefined, seed: 2 ** 32 - 1, stop: ['z'], stream: true,
  });
  const noFim = parseCompletion({ model: 'm', prompt: 'x', suffix: 'y' }, { ...LIMITS, fim: false });
  assert.deepEqual([noFim.layout, noFim.prompt], ['prefix-only', { kind: 'text', prefix: 'x' }]);
  assert.equal(parseCompletion({ model: 'm', prompt: 'x', suffix: '' }, LIMITS).layout, 'text');
  assert.equal(parseCompletion({ model: 'm', prompt: 'x', max_tokens: 256, temperature: 0.7, top_k: 8 }, LIMITS).maxTokens, 256);
});

test('completions: every refusal names its field', () => {
  const p = (body: object) => () => parseCompletion({ model: 'm', prompt: 'x', ...body }, LIMITS);
  refused(() => parseCompletion([], LIMITS), null, /JSON object/);
  refused(() => parseCompletion({ prompt: 'x' }, LIMITS), 'model', /required/);
  refused(p({ model: 'other' }), 'model', /does not exist here; this server has m/);
  refused(p({ prompt: undefined }), 'prompt', /required/);
  refused(p({ prompt: [1, 2] }), 'prompt', /token-id prompts/);
  refused(p({ prompt: ['a', 'b'] }), 'prompt', /one prompt per request/);
  refused(p({ prompt: 3 }), 'prompt', /must be a string/);
  refused(p({ max_tokens: 0 }), 'max_tokens', /at least 1 and at most the model's context of 256 tokens/);
  refused(p({ max_tokens: 1.5 }), 'max_tokens', /integer/);
  refused(p({ temperature: 3 }), 'temperature', /\[0, 2\]/);
  refused(p({ top_p: 0.95 }), 'top_p', /top_p other than 1/);
  refused(p({ top_k: 65 }), 'top_k', /at most 64/);
  refused(p({ n: 2 }), 'n', /n must be 1/);
  refused(p({ stream: 'yes' }), 'stream', /true or false/);
  refused(p({ stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop', /at most 4/);
  refused(p({ stop: [''] }), 'stop', /empty/);
  refused(p({ suffix: 7 }), 'suffix', /string/);
  refused(p({ echo: true }), 'echo', /not supported/);
  refused(p({ logprobs: 2 }), 'logprobs', /not supported/);
  refused(p({ presence_penalty: 0.5 }), 'presence_penalty', /only 0/);
  refused(p({ logit_bias: { 1: 2 } }), 'logit_bias', /not supported/);
  assert.doesNotThrow(p({ user: 'u', stream_options: { include_usage: true }, logprobs: null, presence_penalty: 0, logit_bias: {} }));
});

test('chat: roles (developer is system), text parts joined, max_completion_tokens, half the context by default', () => {
  const job = parseChat({
    model: 'm', max_completion_tokens: 40,
    messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }, { role: 'assistant', content: null }],
  }, LIMITS);
  assert.deepEqual(job.prompt, { kind: 'messages', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'ab' }, { role: 'assistant', content: '' }] });
  assert.deepEqual([job.layout, job.maxTokens, job.endpoint], ['chat', 40, 'chat']);
  assert.equal(parseChat({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, LIMITS).maxTokens, 128);
  const c = (body: object) => () => parseChat({ model: 'm', ...body }, LIMITS);
  refused(c({}), 'messages', /required/);
  refused(c({ messages: [] }), 'messages', /non-empty/);
  refused(c({ messages: [{ role: 'tool', content: 'x' }] }), 'messages[0].role', /system, user or assistant/);
  refused(c({ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }), 'messages[0].content', /text parts/);
  refused(c({ messages: [{ role: 'user', content: 'x' }], tools: [{}] }), 'tools', /not supported/);
  refused(c({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }), 'response_format', /text response format/);
});

test('cutAtStop: the text before the earliest stop string', () => {
  assert.deepEqual(cutAtStop('abc\n\ndef', ['\n\n', 'c']), { text: 'ab', stopped: true });
  assert.deepEqual(cutAtStop('abc', ['x']), { text: 'abc', stopped: false });
  assert.deepEqual(cutAtStop('abc', []), { text: 'abc', stopped: false });
});

test('StreamedText: deltas join to the final text; a possible stop-string start and an unfinished character wait', () => {
  const s = new StreamedText(['\n\n', 'END']);
  const deltas = ['def f', 'def f():\n', 'def f():\n    return 1\uFFFD', 'def f():\n    return 1é E', 'def f():\n    return 1é EN', 'def f():\n    return 1é ENx']
    .map((t) => s.next(t));
  assert.deepEqual(deltas, ['def f', '():', '\n    return 1', 'é ', '', 'ENx']);
  assert.equal(s.finish('def f():\n    return 1é ENx\n\nmore'), '');
  assert.equal(s.text, 'def f():\n    return 1é ENx');
  const t = new StreamedText(['END']);
  assert.equal(t.next('abc EN'), 'abc ');
  assert.equal(t.next('abc END and more'), '', 'the stop string and what follows are never sent');
  assert.equal(t.finish('abc END and more'), '');
  assert.equal(t.text, 'abc ');
  const u = new StreamedText([]);
  assert.equal(u.next('a\uFFFD\uFFFD'), 'a');
  assert.equal(u.finish('a\uFFFD\uFFFD'), '\uFFFD\uFFFD', 'at the end, whatever is left goes');
});

test('chunks: completions carry text, chat a delta (the role first); the last one carries finish_reason and usage', () => {
  const head = { id: 'x', created: 1, model: 'm', system_fingerprint: 'simsd:text' };
  assert.deepEqual(completionChunk('completions', head, 'ab'), { ...head, object: 'text_completion', choices: [{ index: 0, text: 'ab', logprobs: null, finish_reason: null }] });
  assert.deepEqual((completionChunk('chat', head, 'ab', null, undefined, true) as { choices: { delta: object }[] }).choices[0].delta, { role: 'assistant', content: 'ab' });
  const last = completionChunk('chat', head, '', 'stop', { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }) as Record<string, unknown>;
  assert.deepEqual(last.choices, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
  assert.deepEqual(last.usage, { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
});

test('cache slots: prompts with the same head share a slot; the slot count bounds the keys', () => {
  const long = 'x'.repeat(SLOT_KEY_CHARS);
  assert.equal(cacheSlot({ kind: 'text', prefix: `${long}a` }), cacheSlot({ kind: 'text', prefix: `${long}b and more` }));
  assert.notEqual(cacheSlot({ kind: 'text', prefix: long }), cacheSlot({ kind: 'text', prefix: long, suffix: 's' }), 'FIM ids start differently');
  const chat = (extra: string) => ({ kind: 'messages' as const, messages: [{ role: 'system' as const, content: 'S' }, { role: 'user' as const, content: 'Q' }, { role: 'user' as const, content: extra }] });
  assert.equal(cacheSlot(chat('turn 2')), cacheSlot(chat('turn 3')), 'the next turn of a chat reuses its cache');
  const keys = new Set(Array.from({ length: 500 }, (_, i) => cacheSlot({ kind: 'text', prefix: `p${i}` })));
  assert.ok(keys.size <= CACHE_SLOTS && keys.size > CACHE_SLOTS / 2, `${keys.size} keys`);
});

test('isLoopback: 127.0.0.0/8, ::1 and localhost only', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.2', 'example.com', '10.0.0.1']) assert.ok(!isLoopback(h), h);
});

test('metrics: Prometheus text with requests by endpoint and status (odd paths as other), tokens, accept length, queue', () => {
  const m = new ServerMetrics();
  m.request('/v1/completions', 200);
  m.request('/v1/completions', 200);
  m.request('/wp-admin', 404);
  m.generation({ tokenIds: [1, 2, 3, 4], prefix: { promptTokens: 5 }, stats: { decodeMs: 500, tokPerS: 8, verifications: 2, acceptLength: { mean: 2, histogram: [] } } } as unknown as GenerationResult);
  m.cancellation();
  const text = m.render({ queueDepth: 3, inFlight: true });
  for (const line of [
    'simsd_requests_total{endpoint="/v1/completions",status="200"} 2', 'simsd_requests_total{endpoint="other",status="404"} 1',
    'simsd_generated_tokens_total 4', 'simsd_prompt_tokens_total 5', 'simsd_tokens_per_second 8', 'simsd_accept_length 2',
    'simsd_generations_cancelled_total 1', 'simsd_queue_depth 3', 'simsd_in_flight 1', '# TYPE simsd_requests_total counter',
  ]) assert.ok(text.split('\n').includes(line), line);
  assert.match(text, /^process_resident_memory_bytes \d+$/m);
  assert.deepEqual(m.summary(), { requests: 3, generations: 1, cancelled: 1, generatedTokens: 4 });
});
