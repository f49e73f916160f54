// The remote backend (src/remote/client.ts) against servers on 127.0.0.1 that answer with SGLang's and LMDeploy's
// documented response shapes (test/fixtures/openai/*.json): models, completions streamed and not, chat, their error
// bodies, FIM only to servers known to honour `suffix`, and an abort that reaches the server.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildCursorContext } from '../../src/completion/context';
import type { Request } from '../../src/protocol/request';
import { RemoteClient } from '../../src/remote/client';
import { errorMessage, feedEvents } from '../../src/remote/openai';

interface Shapes {
  readonly models: object; readonly completion: object; readonly stream: object[]; readonly chat: object;
  readonly chatStream: object[]; readonly error: { status: number; body: object };
}

interface Seen { readonly path: string; readonly body: Record<string, unknown>; readonly auth: string | undefined }

const servers: http.Server[] = [];
after(() => { for (const s of servers) s.close(); });

/** A server that answers every route from `shapes`; `mode` picks streamed or plain answers, or the error. */
async function standIn(shapes: Shapes, mode: { stream?: boolean; fail?: boolean; hang?: boolean; ownedBy?: string } = {}) {
  const seen: Seen[] = [];
  let aborted = false;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => { raw += d.toString(); });
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) as Record<string, unknown> : {};
      seen.push({ path: req.url ?? '', body, auth: req.headers.authorization });
      if (req.url === '/v1/models') {
        const models = mode.ownedBy ? { data: [{ id: 'm', owned_by: mode.ownedBy }] } : shapes.models;
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(models));
      }
      if (mode.fail) return void res.writeHead(shapes.error.status, { 'content-type': 'application/json' }).end(JSON.stringify(shapes.error.body));
      const chat = req.url === '/v1/chat/completions';
      if (mode.hang) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify((chat ? shapes.chatStream : shapes.stream)[0])}\n\n`);
        res.on('close', () => { aborted = true; });
        return;
      }
      if (!mode.stream) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chat ? shapes.chat : shapes.completion));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const chunk of chat ? shapes.chatStream : shapes.stream) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, aborted: () => aborted };
}

const context = buildCursorContext({ text: 'def add(a, b):\n    \n\nprint(add(1, 2))\n', languageId: 'python', uri: 'file:///a.py' }, { line: 1, character: 4 });
const completion: Request = {
  kind: 'completion', fileKey: 'file:///a.py',
  prompt: { kind: 'completion', context, ring: [], outputReserve: 16, options: { maxPromptTokens: 1024, layout: 'fim' } },
  params: { strategy: 'auto', maxTokens: 16, stopAtLineEnd: true },
};
const chat: Request = { kind: 'generate', fileKey: '', prompt: { kind: 'chat', instruction: 'write f', context: 'x = 1', languageId: 'python' }, params: { strategy: 'auto', maxTokens: 32 } };

for (const server of ['sglang', 'lmdeploy'] as const) {
  const shapes = JSON.parse(readFileSync(`test/fixtures/openai/${server}.json`, 'utf8')) as Shapes;
  describe(`${server} shapes`, () => {
    test('connect names the model and the server; no suffix is sent to it (auto FIM)', async () => {
      const s = await standIn(shapes, { stream: true });
      const client = await RemoteClient.connect({ url: s.url, model: '', fim: 'auto', apiKey: 'k1' });
      assert.equal(client.ready.model, 'JetLM/SDAR-8B-Chat');
      assert.equal(client.ready.server, server);
      assert.equal(client.ready.fim, false);
      const progress: string[] = [];
      const r = await client.request(completion, { onProgress: (t) => progress.push(t) });
      assert.equal(r?.text, 'return a + b');
      assert.deepEqual(progress, ['return', 'return a + b']);
      assert.equal(r?.stats.newTokens, 5, 'usage from the stream');
      assert.equal(r?.stats.strategy, 'remote');
      const sent = s.seen.find((x) => x.path === '/v1/completions');
      assert.ok(sent && sent.body.suffix === undefined && sent.body.prompt === 'def add(a, b):\n    ');
      assert.deepEqual(sent?.body.stop, ['\n'], 'a single-line request stops at the line end on the server too');
      assert.equal(sent?.auth, 'Bearer k1');
    });

    test('plain (non-streamed) answers and chat, streamed and not', async () => {
      const plain = await RemoteClient.connect({ url: (await standIn(shapes)).url, model: 'JetLM/SDAR-8B-Chat', fim: 'off' });
      assert.equal((await plain.request(completion))?.text, 'return a + b\n');
      assert.match((await plain.request(chat))?.text ?? '', /def f\(\):/);
      const streamed = await RemoteClient.connect({ url: (await standIn(shapes, { stream: true })).url, model: '', fim: 'off' });
      assert.equal((await streamed.request(chat))?.text, 'def f():\n    return 1');
    });

    test(`its error body becomes one line naming the status and the server's message`, async () => {
      const s = await standIn(shapes, { fail: true });
      const client = await RemoteClient.connect({ url: s.url, model: '', fim: 'off' });
      const message = (shapes.error.body as { message: string }).message;
      await assert.rejects(client.request(completion), (e: Error) => e.message.includes(String(shapes.error.status)) && e.message.includes(message));
    });
  });
}

describe('simsd serve and the transport', () => {
  test('FIM goes to our own server (auto), as `suffix`', async () => {
    const shapes = JSON.parse(readFileSync('test/fixtures/openai/sglang.json', 'utf8')) as Shapes;
    const s = await standIn(shapes, { stream: true, ownedBy: 'simsd' });
    const client = await RemoteClient.connect({ url: `${s.url}/v1/`, model: '', fim: 'auto' });
    assert.equal(client.ready.server, 'simsd');
    await client.request(completion);
    assert.equal(s.seen.find((x) => x.path === '/v1/completions')?.body.suffix, '\n\nprint(add(1, 2))\n');
  });

  test('a cancelled request aborts the HTTP request and resolves null; a warm-up is not sent', async () => {
    const shapes = JSON.parse(readFileSync('test/fixtures/openai/lmdeploy.json', 'utf8')) as Shapes;
    const s = await standIn(shapes, { hang: true });
    const client = await RemoteClient.connect({ url: s.url, model: '', fim: 'off' });
    const listeners: (() => void)[] = [];
    const token = { isCancellationRequested: false, onCancellationRequested: (l: () => void) => { listeners.push(l); } };
    const pending = client.request(completion, { cancellation: token });
    await new Promise((r) => setTimeout(r, 100));
    listeners.forEach((l) => l());
    assert.equal(await pending, null);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(s.aborted(), 'the server saw the connection close');
    assert.equal(await client.request({ ...completion, kind: 'warmup' }), null);
  });

  test('an unreachable server, a server without models, an unknown model: clear one-line errors', async () => {
    await assert.rejects(RemoteClient.connect({ url: 'http://127.0.0.1:9', model: '', fim: 'off', timeoutMs: 2000 }), /cannot reach http:\/\/127\.0\.0\.1:9\/v1\/models/);
    const shapes = JSON.parse(readFileSync('test/fixtures/openai/sglang.json', 'utf8')) as Shapes;
    const s = await standIn({ ...shapes, models: { data: [] } });
    await assert.rejects(RemoteClient.connect({ url: s.url, model: '', fim: 'off' }), /lists no model/);
    const t = await standIn(shapes);
    await assert.rejects(RemoteClient.connect({ url: t.url, model: 'other', fim: 'off' }), /has no model other \(it has JetLM\/SDAR-8B-Chat\)/);
  });

  test('event parsing keeps a partial line for the next chunk; error bodies of every form', () => {
    const got: unknown[] = [];
    const push = (p: unknown) => { got.push(p); };
    let done = false;
    const rest = feedEvents(': keep-alive\n\ndata: {"a":1}\n\ndata: {"b"', push, () => { done = true; });
    assert.deepEqual(got, [{ a: 1 }]);
    assert.equal(rest, 'data: {"b"');
    feedEvents(`${rest}:2}\n\ndata: [DONE]\n`, push, () => { done = true; });
    assert.deepEqual(got, [{ a: 1 }, { b: 2 }]);
    assert.ok(done);
    assert.equal(errorMessage('{"error":{"message":"bad","type":"invalid_request_error"}}'), 'bad');
    assert.equal(errorMessage('{"object":"error","message":"worse","code":400}'), 'worse');
    assert.equal(errorMessage('<html><body>502 Bad Gateway</body></html>'), '<html><body>502 Bad Gateway</body></html>');
  });
});
