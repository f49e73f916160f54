// Adaptive debounce, mid-line gating and the multi-line decision (src/completion/trigger.ts).
// Run: npx tsc --noEmit -p . && node esbuild.mjs --tests && node --test out/test/unit/completion-trigger.test.js
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allowsAutomaticTrigger,
  debounceMs,
  INITIAL_TRIGGER_TIMINGS,
  isMultiline,
  recordKeystroke,
  recordResponse,
  type DebounceRequest,
  type TriggerTimings,
} from '../../src/completion/trigger';

/** Keystrokes every `gapMs`, starting at t = 0. */
function typed(count: number, gapMs: number, start: TriggerTimings = INITIAL_TRIGGER_TIMINGS): TriggerTimings {
  let timings = start;
  for (let i = 0; i < count; i++) timings = recordKeystroke(timings, i * gapMs);
  return timings;
}

const midWord: DebounceRequest = {
  manual: false,
  device: 'gpu',
  linePrefix: '    valu',
  lineSuffix: ')',
  reachesDocumentEnd: false,
};

describe('debounce', () => {
  test('manual triggers and suggestion-cache hits never wait', () => {
    const slow = typed(50, 300);
    assert.equal(debounceMs(slow, { ...midWord, manual: true }), 0);
    assert.equal(debounceMs(slow, { ...midWord, manual: true }, 250), 0);
  });

  test('a fixed setting is used as is', () => {
    assert.equal(debounceMs(typed(50, 300), midWord, 120), 120);
  });

  test('before 20 gaps the base is 200 ms; mid-word gets the full ×3 rate, capped at 600', () => {
    assert.equal(debounceMs(typed(5, 30), midWord), 600);
  });

  test('the base follows the typing rhythm, clamped to 100–400 ms', () => {
    const lineEnd: DebounceRequest = { ...midWord, linePrefix: '    x = foo(', lineSuffix: '' };
    // line end (0.4) + non-word char (0.5) → rate 3.0 − 1.5 × 0.9 = 1.65
    assert.equal(debounceMs(typed(40, 150), lineEnd), Math.round(150 * 1.65));
    assert.equal(debounceMs(typed(40, 30), lineEnd), Math.round(100 * 1.65));
    assert.equal(debounceMs(typed(40, 900), lineEnd), 600);
  });

  test('pauses longer than a second do not count as rhythm', () => {
    const lineEnd: DebounceRequest = { ...midWord, linePrefix: 'x = (', lineSuffix: '' };
    let timings = typed(40, 150);
    timings = recordKeystroke(timings, 60_000);
    assert.equal(timings.gapsMs.length, 39);
    assert.equal(debounceMs(timings, lineEnd), Math.round(150 * 1.65));
  });

  test('the mean response time is subtracted; the floor is 0 on GPU and 50 on CPU', () => {
    const atEnd: DebounceRequest = { ...midWord, linePrefix: 'x = (', lineSuffix: '', reachesDocumentEnd: true };
    // rate at a document end after a non-word character: 3.0 − 1.5 × 1.0 = 1.5 → 150 × 1.5 = 225
    let timings = typed(40, 150);
    assert.equal(debounceMs(timings, atEnd), 225);
    timings = recordResponse(recordResponse(timings, 100), 200);
    assert.equal(debounceMs(timings, atEnd), 225 - 150);
    timings = recordResponse(timings, 2000);
    assert.equal(debounceMs(timings, atEnd), 0);
    assert.equal(debounceMs(timings, { ...atEnd, device: 'cpu' }), 50);
  });

  test('keeps at most 100 gaps and 10 response times', () => {
    let timings = typed(300, 120);
    for (let i = 0; i < 30; i++) timings = recordResponse(timings, i);
    assert.equal(timings.gapsMs.length, 100);
    assert.deepEqual(timings.responsesMs, [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
  });
});

describe('mid-line gating', () => {
  test('short rests and line ends trigger', () => {
    assert.equal(allowsAutomaticTrigger(''), true);
    assert.equal(allowsAutomaticTrigger('   '), true);
    assert.equal(allowsAutomaticTrigger('x + y)'), true);
    assert.equal(allowsAutomaticTrigger('12345678'), true);
  });

  test('more than 8 characters stop it, unless only closers, quotes or ; : , {', () => {
    assert.equal(allowsAutomaticTrigger('123456789'), false);
    assert.equal(allowsAutomaticTrigger(', user.name);'), false);
    assert.equal(allowsAutomaticTrigger(')]}"\'`;:, {'), true);
    assert.equal(allowsAutomaticTrigger('))))))))))  '), true);
    assert.equal(allowsAutomaticTrigger('abc', 2), false);
  });
});

describe('multi-line decision', () => {
  test('always and never ignore the line', () => {
    assert.equal(isMultiline('always', 'x = foo(a', ', b)'), true);
    assert.equal(isMultiline('never', '', ''), false);
  });

  test('auto: blank line or scope opener, with only closing characters after the cursor', () => {
    assert.equal(isMultiline('auto', '    ', ''), true);
    assert.equal(isMultiline('auto', 'def f(x):', ''), true);
    assert.equal(isMultiline('auto', 'function f() {', '}'), true);
    assert.equal(isMultiline('auto', 'const xs = [', '];'), true);
    assert.equal(isMultiline('auto', 'call(', ')'), true);
    assert.equal(isMultiline('auto', 'const f = () =>', ''), true);
    assert.equal(isMultiline('auto', 'const f = () => ', ''), true);
  });

  test('auto: single line mid-statement or mid-line', () => {
    assert.equal(isMultiline('auto', 'x = compute', ''), false);
    assert.equal(isMultiline('auto', 'call(', 'a, b)'), false);
    assert.equal(isMultiline('auto', '    ', 'return x'), false);
    assert.equal(isMultiline('auto', 'a >= ', ''), false);
  });
});
