// CompletionService with a fake engine: the zero-call path, gating, debounce cancellation, post-processing
// discards, and what reaches the engine (file key, FIM layout, single-line stop).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionService, type CompletionSettings } from '../../src/completion/service';
import { extractCode } from '../../src/completion/chat-answer';
import type { GenerationResult } from '../../src/protocol/messages';
import type { CancellationLike, Request } from '../../src/protocol/request';

const SETTINGS: CompletionSettings = {
  prefixLines: 128, suffixLines: 16, maxPromptTokens: 1024, maxTokens: 32, multiline: 'auto', maxLines: 8,
  maxLineSuffix: 8, debounceMs: 0, layout: 'fim', decode: { strategy: 'auto' },
};

function fakeEngine(answer: string) {
  const requests: Request[] = [];
  return {
    requests,
    request: async (req: Request): Promise<GenerationResult | null> => {
      requests.push(req);
      return {
        id: requests.length, text: answer, tokenIds: [1, 2, 3], finishReason: 'length', engineMs: 1,
        prefix: { promptTokens: 10, reusedTokens: 8, prefilledTokens: 0, prefillMs: 0 },
        stats: { strategy: 'native', newTokens: 3, targetForwards: 4, draftForwards: 0, targetRows: 16, draftRows: 0, cleanPasses: 0, foldedCleanPasses: 1, verifications: 0, acceptLength: null, draftedTokens: 0, matchedTokens: 0, matchRate: null, targetForwardsPerToken: 1.3, draftForwardsPerToken: 0, prefillTokens: 0, prefillMs: 0, decodeMs: 10, tokPerS: 300 },
      };
    },
  };
}

const never: CancellationLike = { isCancellationRequested: false, onCancellationRequested: () => undefined };
const doc = (text: string) => ({ text, languageId: 'python', uri: 'file:///x.py' });

test('a model answer is post-processed, stored, and served again with no model call', async () => {
  const engine = fakeEngine('total += x\n    return total\n');
  const service = new CompletionService(engine, { ...SETTINGS, multiline: 'never' }, () => 'cpu');
  const text = 'def f(xs):\n    total = 0\n    for x in xs:\n        \n';
  const first = await service.complete(doc(text), { line: 3, character: 8 }, false, never);
  assert.equal(first?.source, 'model');
  assert.equal(first?.text, 'total += x', 'single line: cut at the line end');
  assert.equal(engine.requests[0].fileKey, 'file:///x.py');
  assert.equal(engine.requests[0].params.stopAtLineEnd, true);
  assert.equal(engine.requests[0].prompt.kind === 'completion' && engine.requests[0].prompt.options.layout, 'fim');
  // Typing the first two characters of the suggestion: served from the suggestion cache.
  const typed = 'def f(xs):\n    total = 0\n    for x in xs:\n        to\n';
  const second = await service.complete(doc(typed), { line: 3, character: 10 }, false, never);
  assert.notEqual(second?.source, 'model');
  assert.equal(second?.text, 'tal += x');
  assert.equal(engine.requests.length, 1);
});

test('mid-line text right of the cursor gates automatic triggers but not manual ones', async () => {
  const engine = fakeEngine('x');
  const service = new CompletionService(engine, SETTINGS, () => 'cpu');
  const text = 'value = compute(alpha, beta, gamma)\n';
  assert.equal(await service.complete(doc(text), { line: 0, character: 8 }, false, never), null);
  assert.equal(engine.requests.length, 0);
  await service.complete(doc(text), { line: 0, character: 8 }, true, never);
  assert.equal(engine.requests.length, 1);
});

test('a keystroke during the debounce cancels the request before the engine sees it', async () => {
  const engine = fakeEngine('pass');
  const service = new CompletionService(engine, { ...SETTINGS, debounceMs: 200 }, () => 'cpu');
  let fire: () => void = () => undefined;
  const token = { isCancellationRequested: false, onCancellationRequested: (l: () => void) => { fire = l; } };
  const pending = service.complete(doc('def f():\n    \n'), { line: 1, character: 4 }, false, token);
  setTimeout(() => { token.isCancellationRequested = true; fire(); }, 20);
  assert.equal(await pending, null);
  assert.equal(engine.requests.length, 0);
});

test('an answer that post-processing discards is reported as a model call with no text', async () => {
  const engine = fakeEngine('   \n  \n');
  const service = new CompletionService(engine, SETTINGS, () => 'cpu');
  const outcome = await service.complete(doc('def f():\n    \n'), { line: 1, character: 4 }, true, never);
  assert.equal(outcome?.source, 'model');
  assert.equal(outcome?.text, null);
});

test('the prefix lines start on a 32-line anchor, so moving one line down keeps the prompt head', () => {
  const service = new CompletionService(fakeEngine(''), { ...SETTINGS, prefixLines: 40 }, () => 'cpu');
  const text = Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n');
  const a = service.contextFor(doc(text), { line: 100, character: 0 });
  const b = service.contextFor(doc(text), { line: 101, character: 0 });
  assert.equal(a.firstLine, b.firstLine);
  assert.equal(a.firstLine % 32, 0);
  assert.ok(a.prefixLines.length >= 40);
});

test('Generate Code keeps the first fenced block of a chat answer', () => {
  assert.equal(extractCode('Here:\n```python\ndef f():\n    return 1\n```\nDone.'), 'def f():\n    return 1\n');
  assert.equal(extractCode('def g():  \n    pass\n\n'), 'def g():  \n    pass\n');
  assert.equal(extractCode('```ts\nconst a = 1;'), 'const a = 1;\n');
});

/** An engine whose answers the test releases by hand, streaming progress first; it records cancellations. */
function controlledEngine() {
  const calls: { request: Request; progress(text: string): void; finish(text: string): void; cancelled: boolean }[] = [];
  return {
    calls,
    request(request: Request, options: { cancellation?: CancellationLike; onProgress?: (text: string) => void } = {}): Promise<GenerationResult | null> {
      return new Promise((resolve) => {
        const call = {
          request, cancelled: false,
          progress: (text: string) => options.onProgress?.(text),
          finish: (text: string) => resolve(call.cancelled ? null : { ...RESULT, id: calls.length, text }),
        };
        options.cancellation?.onCancellationRequested(() => { call.cancelled = true; resolve(null); });
        calls.push(call);
      });
    },
  };
}
const RESULT: GenerationResult = {
  id: 0, text: '', tokenIds: [1], finishReason: 'length', engineMs: 1,
  prefix: { promptTokens: 10, reusedTokens: 8, prefilledTokens: 0, prefillMs: 0 },
  stats: { strategy: 'native', newTokens: 1, targetForwards: 1, draftForwards: 0, targetRows: 4, draftRows: 0, cleanPasses: 0, foldedCleanPasses: 0, verifications: 0, acceptLength: null, draftedTokens: 0, matchedTokens: 0, matchRate: null, targetForwardsPerToken: 1, draftForwardsPerToken: 0, prefillTokens: 0, prefillMs: 0, decodeMs: 1, tokPerS: 1 },
};

function typingToken() {
  const listeners: (() => void)[] = [];
  return { isCancellationRequested: false, onCancellationRequested(l: () => void) { listeners.push(l); }, cancel() { this.isCancellationRequested = true; listeners.forEach((l) => l()); } };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

test('stream reuse: a keystroke that types along the generation in flight is served from it, with no new model call', async () => {
  const engine = controlledEngine();
  const service = new CompletionService(engine, { ...SETTINGS, multiline: 'never' }, () => 'cpu');
  const first = typingToken();
  const a = service.complete(doc('def f(x):\n    \n'), { line: 1, character: 4 }, false, first);
  await tick();
  engine.calls[0].progress('return');
  // The user types "r" before the answer comes: VS Code cancels the first call; the generation keeps running.
  first.cancel();
  const b = service.complete(doc('def f(x):\n    r\n'), { line: 1, character: 5 }, false, typingToken());
  await tick();
  assert.equal(engine.calls.length, 1, 'no second model call');
  assert.equal(engine.calls[0].cancelled, false, 'the generation in flight was kept');
  engine.calls[0].finish('return x * 2\n');
  assert.equal(await a, null, 'the first keystroke was typed over');
  const served = await b;
  assert.equal(served?.source, 'stream');
  assert.equal(served?.text, 'eturn x * 2');
});

test('stream reuse only when the output agrees with what was typed; otherwise a new call (and the old one is replaced)', async () => {
  const engine = controlledEngine();
  const service = new CompletionService(engine, { ...SETTINGS, multiline: 'never' }, () => 'cpu');
  const first = typingToken();
  void service.complete(doc('def f(x):\n    \n'), { line: 1, character: 4 }, false, first);
  await tick();
  engine.calls[0].progress('return');
  first.cancel();
  const b = service.complete(doc('def f(x):\n    p\n'), { line: 1, character: 5 }, false, typingToken());
  await tick();
  assert.equal(engine.calls.length, 2, 'typing "p" against "return…" asks the model again');
  assert.equal(engine.calls[0].cancelled, true, 'the generation it could not serve was replaced');
  engine.calls[1].finish('ass\n');
  assert.equal((await b)?.text, 'ass');
});

test('a generation nobody adopts is cancelled after its grace period', async () => {
  const engine = controlledEngine();
  const service = new CompletionService(engine, SETTINGS, () => 'cpu');
  const first = typingToken();
  void service.complete(doc('def f(x):\n    \n'), { line: 1, character: 4 }, false, first);
  await tick();
  first.cancel();
  assert.equal(engine.calls[0].cancelled, false, 'kept for a while');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(engine.calls[0].cancelled, true, 'then cancelled');
});

test('the grace period restarts with every last drop: an adopted-then-dropped generation gets its full grace again', async () => {
  const engine = controlledEngine();
  const service = new CompletionService(engine, { ...SETTINGS, multiline: 'never' }, () => 'cpu');
  const first = typingToken();
  void service.complete(doc('def f(x):\n    \n'), { line: 1, character: 4 }, false, first);
  await tick();
  engine.calls[0].progress('return x');
  first.cancel();                                       // last drop #1: a grace timer starts
  await new Promise((r) => setTimeout(r, 200));
  const second = typingToken();
  void service.complete(doc('def f(x):\n    r\n'), { line: 1, character: 5 }, false, second); // adopts it
  await tick();
  await new Promise((r) => setTimeout(r, 150));         // timer #1 would have fired here
  assert.equal(engine.calls[0].cancelled, false, 'the adoption cleared the first timer');
  second.cancel();                                      // last drop #2: a fresh 300 ms
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(engine.calls[0].cancelled, false, 'still within the second grace period');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(engine.calls[0].cancelled, true);
  assert.equal(engine.calls.length, 1);
});
