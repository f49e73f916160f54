// EngineClient over a fake transport: latest wins, priorities, nothing hangs after dispose, and a crashing engine is
// restarted until it keeps failing with no answer in between; the FIFO queue of `simsd serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineClient, EngineRequestError, QueueFullError, type Transport } from '../../src/engine/client';
import type { EngineConfig, EngineMessage, GenerationResult, HostMessage } from '../../src/protocol/messages';
import type { Request } from '../../src/protocol/request';

const CONFIG: EngineConfig = { target: { dir: '/none', label: 't' }, draft: null, threads: 1, cacheBudgetBytes: 1, convertedRoot: '/none' };
const REQUEST: Request = { kind: 'completion', fileKey: 'f', prompt: { kind: 'ids', ids: [1, 2, 3] }, params: { strategy: 'native', maxTokens: 4 } };

interface Fake { transport: Transport; sent: HostMessage[]; reply(m: EngineMessage): void; crash(reason: string): void }

function fakeTransport(): Fake {
  let onMessage: (m: EngineMessage) => void = () => undefined;
  let onExit: (r: string) => void = () => undefined;
  const sent: HostMessage[] = [];
  return {
    sent,
    transport: { post: (m) => sent.push(m), onMessage: (l) => { onMessage = l; }, onExit: (l) => { onExit = l; }, terminate: async () => undefined },
    reply: (m) => onMessage(m),
    crash: (r) => onExit(r),
  };
}

function result(id: number): GenerationResult {
  return { id, text: 'x', tokenIds: [1], finishReason: 'length', engineMs: 1,
    prefix: { promptTokens: 3, reusedTokens: 0, prefilledTokens: 0, prefillMs: 0 },
    stats: { strategy: 'native', newTokens: 1, targetForwards: 1, draftForwards: 0, targetRows: 4, draftRows: 0, cleanPasses: 0, foldedCleanPasses: 0, verifications: 0, acceptLength: null, draftedTokens: 0, matchedTokens: 0, matchRate: null, targetForwardsPerToken: 1, draftForwardsPerToken: 0, prefillTokens: 0, prefillMs: 0, decodeMs: 1, tokPerS: 1000 } };
}

function client(fakes: Fake[], failures: string[] = []): EngineClient {
  return new EngineClient(CONFIG, { executionProvider: 'cpu', reason: 'test' }, () => {
    const f = fakeTransport();
    fakes.push(f);
    return f.transport;
  }, { log: () => undefined, ready: () => undefined, failed: (m) => failures.push(m) });
}

test('a newer completion cancels the running one and replaces the queued one; both older promises settle as null', async () => {
  const fakes: Fake[] = [];
  const h = client(fakes);
  h.start();
  const first = h.request(REQUEST);
  const second = h.request(REQUEST);
  const third = h.request(REQUEST);
  const sent = fakes[0].sent;
  assert.deepEqual(sent.map((m) => m.type), ['init', 'generate', 'cancel']);
  assert.equal(await second, null, 'the queued request was replaced by the newer one');
  fakes[0].reply({ type: 'cancelled', id: 1 });
  assert.equal(await first, null);
  assert.equal(sent[sent.length - 1].type, 'generate', 'the latest request starts once the engine is idle');
  fakes[0].reply({ type: 'done', result: result(3) });
  assert.equal((await third)?.id, 3);
});

test('after dispose, requests settle at once instead of hanging', async () => {
  const fakes: Fake[] = [];
  const h = client(fakes);
  h.start();
  fakes[0].reply({ type: 'ready', v: 1, ready: { executionProvider: 'cpu', providerReason: '', precision: 'fp32', target: 't', draft: null, strategy: 'native', loadMs: 1, fim: false, contextTokens: 256 } });
  const pending = h.request(REQUEST);
  await h.dispose();
  assert.equal(await pending, null);
  assert.equal(h.ready, null);
  assert.equal(await h.request(REQUEST), null);
});

test('the engine is restarted after a crash, but not forever when it never answers', async () => {
  const fakes: Fake[] = [];
  const failures: string[] = [];
  const h = client(fakes, failures);
  h.start();
  const inFlight = h.request(REQUEST);
  fakes[0].crash('boom');
  await assert.rejects(inFlight, /engine stopped \(boom\)/);
  assert.equal(fakes.length, 2, 'restarted');
  const answered = h.request(REQUEST);
  fakes[1].reply({ type: 'done', result: result(2) });
  assert.ok(await answered);
  for (let i = 1; i <= 4; i++) fakes[fakes.length - 1].crash(`crash ${i}`);
  assert.equal(fakes.length, 5, 'three more restarts after the last answer, then it stays off');
  assert.match(failures[failures.length - 1], /stays off/);
  assert.equal(await h.request(REQUEST), null);
});

test('priorities: a warm-up waits behind a completion and is replaced by a newer one; a completion never displaces a waiting Generate Code', async () => {
  const fakes: Fake[] = [];
  const h = client(fakes);
  h.start();
  const completion = h.request(REQUEST);
  const warmup = h.request({ ...REQUEST, kind: 'warmup' });
  const sent = fakes[0].sent;
  assert.deepEqual(sent.map((m) => m.type), ['init', 'generate'], 'a warm-up does not cancel a completion');
  const generate = h.request({ ...REQUEST, kind: 'generate' });
  assert.equal(await warmup, null, 'the waiting warm-up was replaced');
  assert.deepEqual(sent.map((m) => m.type), ['init', 'generate', 'cancel']);
  assert.equal(await h.request(REQUEST), null, 'a completion does not displace the waiting Generate Code');
  fakes[0].reply({ type: 'cancelled', id: 1 });
  assert.equal(await completion, null);
  fakes[0].reply({ type: 'done', result: result(3) });
  assert.equal((await generate)?.id, 3);
});

test('a request cancelled by its requester: waiting → settles at once; active → one cancel message, then null', async () => {
  const fakes: Fake[] = [];
  const h = client(fakes);
  h.start();
  const listeners: (() => void)[] = [];
  const token = { isCancellationRequested: false, onCancellationRequested: (l: () => void) => { listeners.push(l); } };
  const active = h.request(REQUEST, { cancellation: token });
  const waitingListeners: (() => void)[] = [];
  const waiting = h.request({ ...REQUEST, kind: 'warmup' }, { cancellation: { isCancellationRequested: false, onCancellationRequested: (l: () => void) => { waitingListeners.push(l); } } });
  waitingListeners.forEach((l) => l());
  assert.equal(await waiting, null);
  listeners.forEach((l) => l());
  listeners.forEach((l) => l());
  assert.deepEqual(fakes[0].sent.map((m) => m.type), ['init', 'generate', 'cancel'], 'one cancel message');
  fakes[0].reply({ type: 'cancelled', id: 1 });
  assert.equal(await active, null);
});

// --- FIFO (the server's queue): arrival order, each request runs to its end, a bounded wait list. ---------------------

function fifoClient(fakes: Fake[], max: number): EngineClient {
  return new EngineClient(CONFIG, { executionProvider: 'cpu', reason: 'test' }, () => {
    const f = fakeTransport();
    fakes.push(f);
    return f.transport;
  }, { log: () => undefined, ready: () => undefined, failed: () => undefined }, { queue: { kind: 'fifo', max } });
}

const generates = (f: Fake) => f.sent.filter((m) => m.type === 'generate').map((m) => (m as { id: number }).id);

test('FIFO: requests run in arrival order, one at a time, and none cancels another', async () => {
  const fakes: Fake[] = [];
  const h = fifoClient(fakes, 4);
  h.start();
  const answers = [h.request(REQUEST), h.request({ ...REQUEST, kind: 'warmup' }), h.request({ ...REQUEST, kind: 'generate' })];
  assert.deepEqual(fakes[0].sent.map((m) => m.type), ['init', 'generate'], 'no cancel, whatever the priorities');
  assert.equal(h.queueDepth, 2);
  assert.ok(h.inFlight);
  for (const id of [1, 2, 3]) {
    assert.deepEqual(generates(fakes[0]), [1, 2, 3].slice(0, id));
    fakes[0].reply({ type: 'done', result: result(id) });
  }
  assert.deepEqual((await Promise.all(answers)).map((r) => r?.id), [1, 2, 3]);
  assert.equal(h.queueDepth, 0);
  assert.ok(!h.inFlight);
});

test('FIFO: beyond max waiting, a request is refused with QueueFullError (queueFull says so first); a freed place is taken again', async () => {
  const fakes: Fake[] = [];
  const h = fifoClient(fakes, 2);
  h.start();
  const accepted = [h.request(REQUEST), h.request(REQUEST), h.request(REQUEST)];
  assert.ok(h.queueFull);
  await assert.rejects(h.request(REQUEST), (e: unknown) => e instanceof QueueFullError && e.max === 2);
  fakes[0].reply({ type: 'done', result: result(1) });
  assert.ok(!h.queueFull);
  accepted.push(h.request(REQUEST));
  for (const id of [2, 3, 5]) fakes[0].reply({ type: 'done', result: result(id) });
  assert.deepEqual((await Promise.all(accepted)).map((r) => r?.id), [1, 2, 3, 5]);
  const none = fifoClient([], 0);
  none.start();
  const only = none.request(REQUEST);
  await assert.rejects(none.request(REQUEST), QueueFullError, 'max 0: nothing waits');
  void only;
});

test('FIFO: a cancelled waiting request settles as null and keeps the others in order; a cancelled active one is cancelled in the engine', async () => {
  const fakes: Fake[] = [];
  const h = fifoClient(fakes, 4);
  h.start();
  const tokens = [0, 1, 2].map(() => {
    const listeners: (() => void)[] = [];
    return { isCancellationRequested: false, onCancellationRequested: (l: () => void) => { listeners.push(l); }, fire: () => listeners.forEach((l) => l()) };
  });
  const answers = tokens.map((t) => h.request(REQUEST, { cancellation: t }));
  tokens[1].fire();
  assert.equal(await answers[1], null);
  assert.equal(h.queueDepth, 1);
  tokens[0].fire();
  assert.deepEqual(fakes[0].sent.map((m) => m.type), ['init', 'generate', 'cancel']);
  fakes[0].reply({ type: 'cancelled', id: 1 });
  assert.equal(await answers[0], null);
  assert.deepEqual(generates(fakes[0]), [1, 3], 'the third runs next; the cancelled second never reaches the engine');
  fakes[0].reply({ type: 'done', result: result(3) });
  assert.equal((await answers[2])?.id, 3);
});

test('FIFO: an engine error of the request is an EngineRequestError; after a crash the waiting requests go to the restarted engine', async () => {
  const fakes: Fake[] = [];
  const h = fifoClient(fakes, 4);
  h.start();
  const bad = h.request(REQUEST);
  const next = h.request(REQUEST);
  fakes[0].reply({ type: 'error', id: 1, message: 'the prompt is beyond the context', requestError: true });
  await assert.rejects(bad, (e: unknown) => e instanceof EngineRequestError && /beyond the context/.test((e as Error).message));
  const waiting = h.request(REQUEST);
  fakes[0].crash('boom');
  await assert.rejects(next, /engine stopped \(boom\)/);
  assert.equal(fakes.length, 2, 'restarted');
  assert.deepEqual(fakes[1].sent.map((m) => m.type), ['init', 'generate'], 'the waiting request was sent to the new engine');
  fakes[1].reply({ type: 'error', id: 3, message: 'internal' });
  await assert.rejects(waiting, (e: unknown) => e instanceof Error && !(e instanceof EngineRequestError));
  const last = h.request(REQUEST);
  const queued = h.request(REQUEST);
  await h.dispose();
  assert.deepEqual([await last, await queued], [null, null], 'dispose settles everything as null');
});
