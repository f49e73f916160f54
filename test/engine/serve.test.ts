// `simsd serve` as a client sees it: `node dist/cli.js serve` with the embedded pair on 127.0.0.1, port 0. Greedy
// answers equal `simsd generate` for the same prompt and strategy; streamed text equals the whole answer; concurrent
// requests equal their sequential answers; an abandoned stream is cancelled and the next request answered; stop
// strings, chat, FIM fallback, bad input (400 with OpenAI's error shape), 401, 404/405, 413, 429; the non-loopback
// refusal; a graceful SIGTERM. Needs `node esbuild.mjs` first; every server is stopped by the test that starts it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer } from '../../src/model/tokenizer';
import { call, CLI, metric, spawnServe, stream, type ServeProcess } from '../serve-helpers';

const PROMPTS = ['def add(a, b):', 'import numpy as np', 'class Node:', 'def fibonacci(n):'];
const STRATEGY = 'simsd-exact';
let work = '';
let cacheDir = '';
let server: ServeProcess;
let model = '';

before(async () => {
  assert.ok(existsSync(CLI), 'dist/cli.js is missing: build with `node esbuild.mjs` first');
  work = mkdtempSync(join(tmpdir(), 'simsd-serve-'));
  cacheDir = join(work, 'converted');
  server = await spawnServe(['--target', 'models/target', '--draft', 'models/draft', '--strategy', STRATEGY, '--threads', '1', '--cache-dir', cacheDir, '--max-queue', '16']);
  model = server.listening.model;
});
after(async () => {
  await server?.stop('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const completion = (prompt: string, extra: object = {}) => ({ model, prompt, max_tokens: 24, temperature: 0, ...extra });

function generateCli(prompt: string, maxTokens: number): { text: string; tokenIds: number[] } {
  const r = spawnSync(process.execPath, [CLI, 'generate', '--target', 'models/target', '--draft', 'models/draft', '--strategy', STRATEGY,
    '--prompt', prompt, '--max-tokens', String(maxTokens), '--threads', '1', '--cache-dir', cacheDir, '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { text: string; tokenIds: number[] };
}

function assertError(r: { status: number; body: unknown }, status: number, param: string | null, code?: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  const e = (r.body as { error: Record<string, unknown> }).error;
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof e.message, 'string');
  assert.equal(e.param, param);
  if (code !== undefined) assert.equal(e.code, code);
  if (status === 400) assert.equal(e.type, 'invalid_request_error');
}

test('/v1/models, /health; greedy /v1/completions equals `simsd generate` on several prompts', async () => {
  const models = await call(server.base, 'GET', '/v1/models');
  assert.equal(models.status, 200);
  assert.deepEqual(models.body.data.map((m: { id: string; owned_by: string }) => [m.id, m.owned_by]), [[model, 'simsd']]);
  assert.equal((await call(server.base, 'GET', '/health')).body.status, 'ok');
  for (const prompt of PROMPTS) {
    const expected = generateCli(prompt, 24);
    const r = await call(server.base, 'POST', '/v1/completions', completion(prompt));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.object, 'text_completion');
    assert.equal(r.body.choices[0].text, expected.text, prompt);
    assert.equal(r.body.usage.completion_tokens, expected.tokenIds.length);
    assert.equal(r.body.usage.total_tokens, r.body.usage.prompt_tokens + r.body.usage.completion_tokens);
    assert.equal(r.headers['x-simsd-prompt-layout'], 'text');
  }
});

test('a stream is server-sent events whose deltas join to the whole answer, then a final chunk with usage and [DONE]', async () => {
  for (const [prompt, extra] of [[PROMPTS[0], {}], [PROMPTS[1], { max_tokens: 64 }], [PROMPTS[3], { stop: ['\n\n', 'Tensor'] }]] as const) {
    const whole = await call(server.base, 'POST', '/v1/completions', completion(prompt, extra));
    const s = await stream(server.base, '/v1/completions', completion(prompt, extra));
    assert.equal(s.status, 200);
    assert.match(String(s.headers['content-type']), /^text\/event-stream/);
    assert.ok(s.done, 'data: [DONE] ends the stream');
    assert.equal(s.text, whole.body.choices[0].text, prompt);
    const last = s.events.at(-1);
    assert.equal(last.choices[0].text, '');
    assert.equal(last.choices[0].finish_reason, whole.body.choices[0].finish_reason);
    assert.deepEqual(last.usage, whole.body.usage);
    assert.ok(s.events.slice(0, -1).every((e) => e.choices[0].finish_reason === null && e.id === last.id));
  }
});

test('8 concurrent requests each equal their sequential answer', async () => {
  const prompts = [...PROMPTS, 'for i in range(10):', 'function add(a, b) {', 'SELECT name FROM', '# Read a CSV file\n'];
  const sequential = [];
  for (const p of prompts) sequential.push((await call(server.base, 'POST', '/v1/completions', completion(p))).body.choices[0].text);
  const concurrent = await Promise.all(prompts.map((p, i) => (i % 2 === 0
    ? call(server.base, 'POST', '/v1/completions', completion(p)).then((r) => r.body.choices[0].text as string)
    : stream(server.base, '/v1/completions', completion(p)).then((r) => r.text))));
  assert.deepEqual(concurrent, sequential);
});

test('stop strings: the text ends before the first stop string, finish_reason stop, fewer tokens generated', async () => {
  const full = (await call(server.base, 'POST', '/v1/completions', completion(PROMPTS[1], { max_tokens: 64 }))).body;
  const text: string = full.choices[0].text;
  const stop = text.slice(10, 14);
  const r = (await call(server.base, 'POST', '/v1/completions', completion(PROMPTS[1], { max_tokens: 64, stop: [stop, 'never appears'] }))).body;
  assert.equal(r.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.usage.completion_tokens < full.usage.completion_tokens, `${r.usage.completion_tokens} < ${full.usage.completion_tokens}`);
  const single = (await call(server.base, 'POST', '/v1/completions', completion(PROMPTS[1], { max_tokens: 64, stop: '\n' }))).body;
  assert.equal(single.choices[0].text, text.slice(0, text.indexOf('\n')));
});

test('an abandoned stream is cancelled within a forward or so, and the next request is answered', async () => {
  const before = await metric(server.base, 'simsd_generations_cancelled_total');
  const generatedBefore = await metric(server.base, 'simsd_generated_tokens_total');
  const s = await stream(server.base, '/v1/completions', completion(PROMPTS[0], { max_tokens: 128 }), { abandonAfter: 1 });
  assert.ok(s.abandoned);
  const next = await call(server.base, 'POST', '/v1/completions', completion(PROMPTS[2]));
  assert.equal(next.status, 200);
  assert.equal(next.body.choices[0].text, generateCli(PROMPTS[2], 24).text);
  assert.equal(await metric(server.base, 'simsd_generations_cancelled_total'), before + 1);
  // Only the answered request's tokens count: the abandoned one stopped early.
  assert.equal(await metric(server.base, 'simsd_generated_tokens_total'), generatedBefore + next.body.usage.completion_tokens);
  assert.equal(await metric(server.base, 'simsd_requests_total{endpoint="/v1/completions",status="499"}'), 1);
});

test('chat completions render the chat template; usage counts the templated prompt; streamed chat equals whole chat', async () => {
  const messages = [{ role: 'system', content: 'You write Python.' }, { role: 'user', content: 'Write a function that adds two numbers.' }];
  const body = { model, messages, max_tokens: 32 };
  const r = await call(server.base, 'POST', '/v1/chat/completions', body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.object, 'chat.completion');
  assert.equal(r.body.choices[0].message.role, 'assistant');
  assert.ok(r.body.choices[0].message.content.length > 0);
  const tokenizer = loadTokenizer('models/target');
  assert.equal(r.body.usage.prompt_tokens, tokenizer.encodeChat(messages as never).length);
  assert.ok(r.body.usage.completion_tokens >= 1 && r.body.usage.completion_tokens <= 32);
  if (r.body.choices[0].finish_reason === 'length') assert.equal(r.body.usage.completion_tokens, 32);
  const s = await stream(server.base, '/v1/chat/completions', body);
  assert.equal(s.text, r.body.choices[0].message.content);
  assert.equal(s.events[0].object, 'chat.completion.chunk');
  assert.equal(s.events[0].choices[0].delta.role, 'assistant');
  assert.deepEqual(s.events.at(-1).usage, r.body.usage);
});

test('a suffix on a model that cannot infill: the prefix alone, said in the header and system_fingerprint', async () => {
  assert.equal(server.listening.fim, false, "the embedded pair's manifest says FIM is not usable");
  const plain = await call(server.base, 'POST', '/v1/completions', completion(PROMPTS[0]));
  const r = await call(server.base, 'POST', '/v1/completions', completion(PROMPTS[0], { suffix: '\n    return a + b\n' }));
  assert.equal(r.headers['x-simsd-prompt-layout'], 'prefix-only');
  assert.equal(r.body.system_fingerprint, 'simsd:prefix-only');
  assert.equal(r.body.choices[0].text, plain.body.choices[0].text);
});

test('bad input is a 400 in OpenAI error shape, and the server keeps serving; 404, 405, 413', async () => {
  const post = (body: unknown) => call(server.base, 'POST', '/v1/completions', body);
  assertError(await post('{"model": "x", "prompt": '), 400, null, 'invalid_json');
  assertError(await post({ model }), 400, 'prompt', 'missing_field');
  assertError(await post({ model, prompt: 'x', max_tokens: 'ten' }), 400, 'max_tokens', 'invalid_type');
  assertError(await post({ model, prompt: 'x', max_tokens: 100_000 }), 400, 'max_tokens');
  assertError(await post({ model, prompt: 'x', max_tokens: 256 }), 400, null, 'context_length_exceeded'); // ≤ the context, but not with the prompt
  assertError(await post({ model: 'gpt-4', prompt: 'x' }), 400, 'model', 'model_not_found');
  assertError(await post({ model, prompt: [1, 2, 3] }), 400, 'prompt', 'unsupported');
  assertError(await post({ model, prompt: 'x', top_p: 0.9 }), 400, 'top_p', 'unsupported');
  assertError(await post({ model, prompt: 'x', stop: [1] }), 400, 'stop', 'invalid_type');
  assertError(await call(server.base, 'POST', '/v1/chat/completions', { model, messages: [{ role: 'tool', content: 'x' }] }), 400, 'messages[0].role');
  assertError(await post(Buffer.alloc(5 * 2 ** 20, 0x20)), 413, null, 'body_too_large');
  assertError(await call(server.base, 'GET', '/v1/completions'), 405, null, 'method_not_allowed');
  assertError(await call(server.base, 'GET', '/v2/anything'), 404, null, 'not_found');
  assert.equal((await post(completion(PROMPTS[0], { max_tokens: 4 }))).status, 200, 'still serving');
});

test('--api-key: 401 without or with a wrong key, 200 with it (health stays open); 429 when the queue is full', async () => {
  const keyed = await spawnServe(['--target', 'models/target', '--strategy', 'native', '--threads', '1', '--cache-dir', cacheDir, '--max-queue', '1', '--api-key', 'sekrit']);
  try {
    const body = completion(PROMPTS[0], { model: keyed.listening.model, max_tokens: 4 });
    assertError(await call(keyed.base, 'POST', '/v1/completions', body), 401, null, 'invalid_api_key');
    assertError(await call(keyed.base, 'POST', '/v1/completions', body, { authorization: 'Bearer wrong' }), 401, null, 'invalid_api_key');
    assertError(await call(keyed.base, 'GET', '/metrics'), 401, null, 'invalid_api_key');
    assert.equal((await call(keyed.base, 'GET', '/health')).status, 200);
    const auth = { authorization: 'Bearer sekrit' };
    assert.equal((await call(keyed.base, 'POST', '/v1/completions', body, auth)).status, 200);

    // Four at once on a queue of 1: one runs, one waits, the others are refused (each of 128 tokens outlasts the burst).
    const long = { ...body, max_tokens: 128 };
    const answers = await Promise.all([0, 1, 2, 3].map(() => call(keyed.base, 'POST', '/v1/completions', long, auth)));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 429, 429]);
    for (const refused of answers.filter((a) => a.status === 429)) {
      assertError(refused, 429, null, 'queue_full');
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(refused.body.error.type, 'rate_limit_error');
    }
  } finally {
    await keyed.stop('SIGKILL');
  }
});

test('a non-loopback --host without --api-key is refused with one line, rc 2, before any model loads', () => {
  const r = spawnSync(process.execPath, [CLI, 'serve', '--target', 'models/target', '--host', '0.0.0.0'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, SIMSD_API_KEY: '' } });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^simsd: --host 0\.0\.0\.0 is reachable from other machines: give --api-key/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('SIGTERM: a running stream is answered to its end, then the server exits 0 with its summary line', async () => {
  const s = stream(server.base, '/v1/completions', completion(PROMPTS[3], { max_tokens: 64 }));
  while (!(await call(server.base, 'GET', '/health')).body.inFlight) await new Promise((r) => setTimeout(r, 2));
  const stopped = server.stop('SIGTERM');
  const answer = await s;
  assert.ok(answer.done, 'the stream ended with [DONE]');
  const { code, stdout } = await stopped;
  assert.equal(code, 0);
  const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
  assert.equal(summary.stopped, 'SIGTERM');
  assert.ok(summary.generations >= 1 && summary.requests >= summary.generations);
});
