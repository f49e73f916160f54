// The suggestion cache (src/completion/suggestions.ts): typing-through, forwarding entries, LRU + TTL, lookback, stats.
// Run: npx tsc --noEmit -p . && node esbuild.mjs --tests && node --test out/test/unit/completion-suggestions.test.js
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildCursorContext } from '../../src/completion/context';
import type { ContextLimits, CursorContext } from '../../src/protocol/request';
import { forwardingOffsets, SuggestionCache } from '../../src/completion/suggestions';

const CURSOR = '║';

/** Windows for a document with the cursor marked by ║. */
function at(marked: string, limits: ContextLimits = { prefixLines: 128, suffixLines: 16 }, uri = 'file:///a.py'): CursorContext {
  const [before, after] = marked.split(CURSOR) as [string, string];
  const lines = before.split('\n');
  const cursor = { line: lines.length - 1, character: lines[lines.length - 1]!.length };
  return buildCursorContext({ text: before + after, languageId: 'python', uri }, cursor, limits);
}

function fakeClock(): { now(): number; advance(ms: number): void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const FILE = 'import os\n\ndef main():\n    path = ║\n\nmain()\n';
const COMPLETION = 'os.getcwd()\n    print(path)';

describe('typing-through', () => {
  test('text typed since the suggestion was shown is a prefix of it: the remainder comes back', () => {
    const cache = new SuggestionCache();
    cache.markShown(at(FILE), COMPLETION);
    assert.deepEqual(cache.lookup(at(FILE.replace(CURSOR, `os.get${CURSOR}`))), {
      completion: 'cwd()\n    print(path)',
      source: 'typing-through',
    });
    // Across the line break, as the editor auto-indents the next line.
    assert.deepEqual(cache.lookup(at(FILE.replace(CURSOR, `os.getcwd()\n    pr${CURSOR}`))), {
      completion: 'int(path)',
      source: 'typing-through',
    });
  });

  test('text that leaves the suggestion, a finished suggestion, or another file are misses', () => {
    const cache = new SuggestionCache();
    cache.markShown(at(FILE), COMPLETION);
    assert.equal(cache.lookup(at(FILE.replace(CURSOR, `os.path${CURSOR}`))), null);
    assert.equal(cache.lookup(at(FILE.replace(CURSOR, `${COMPLETION}${CURSOR}`))), null);
    assert.equal(cache.lookup(at(FILE.replace(CURSOR, `os${CURSOR}`), undefined, 'file:///b.py')), null);
    cache.clearShown();
    assert.equal(cache.lookup(at(FILE.replace(CURSOR, `os${CURSOR}`))), null);
  });

  test('still works when the prefix lines slid down by the typed lines', () => {
    const limits = { prefixLines: 2, suffixLines: 4 };
    const cache = new SuggestionCache();
    cache.markShown(at(FILE, limits), COMPLETION);
    const hit = cache.lookup(at(FILE.replace(CURSOR, `os.getcwd()\n    print(${CURSOR}`), limits));
    assert.deepEqual(hit, { completion: 'path)', source: 'typing-through' });
  });
});

describe('forwarding entries', () => {
  test('offsets: 1..49 along the first line, then line end, next line start, after its indentation', () => {
    assert.deepEqual(forwardingOffsets('abc', 50), [1, 2]);
    assert.deepEqual(forwardingOffsets('ab\n    cd', 50), [1, 2, 3, 7]);
    assert.equal(forwardingOffsets('x'.repeat(80), 50).length, 49);
  });

  test('typing along the first line and into the next line hits without a call', () => {
    const cache = new SuggestionCache();
    cache.store(at(FILE), COMPLETION);
    assert.deepEqual(cache.lookup(at(FILE.replace(CURSOR, `os.ge${CURSOR}`))), {
      completion: 'tcwd()\n    print(path)',
      source: 'forwarding',
    });
    assert.deepEqual(cache.lookup(at(FILE.replace(CURSOR, `os.getcwd()\n    ${CURSOR}`))), {
      completion: 'print(path)',
      source: 'forwarding',
    });
    assert.deepEqual(cache.lookup(at(FILE)), { completion: COMPLETION, source: 'lru' });
  });
});

describe('LRU', () => {
  test('entries expire after 5 minutes', () => {
    const clock = fakeClock();
    const cache = new SuggestionCache({ clock });
    cache.store(at(FILE), COMPLETION);
    clock.advance(4 * 60 * 1000);
    assert.equal(cache.lookup(at(FILE))?.source, 'lru');
    clock.advance(60 * 1000 + 1);
    assert.equal(cache.lookup(at(FILE)), null);
    assert.equal(cache.lookup(at(FILE.replace(CURSOR, `os.ge${CURSOR}`))), null, 'forwarding keys expire with their result');
    assert.equal(cache.size, 0);
  });

  test('holds 256 results, forwarding keys included, and evicts the least recently used', () => {
    const cache = new SuggestionCache();
    const file = (i: number): string => `x = ${i}\n${CURSOR}\n`;
    for (let i = 0; i < 256; i++) cache.store(at(file(i)), `value_${i} = compute(${i})`);
    assert.equal(cache.size, 256);
    assert.notEqual(cache.lookup(at(file(0))), null, 'touching 0 makes 1 the oldest');
    cache.store(at(file(256)), 'value_256 = compute(256)');
    assert.equal(cache.size, 256);
    assert.equal(cache.lookup(at(file(1))), null);
    assert.equal(cache.lookup(at(`x = 1\nvalue_${CURSOR}\n`)), null, 'the evicted result takes its forwarding keys along');
    assert.notEqual(cache.lookup(at(file(0))), null);
    assert.notEqual(cache.lookup(at(`x = 2\nvalue_${CURSOR}\n`)), null);
  });

  test('keys differ by uri, prefix and suffix', () => {
    const cache = new SuggestionCache();
    cache.store(at(FILE), COMPLETION);
    assert.equal(cache.lookup(at(FILE, undefined, 'file:///other.py')), null);
    assert.equal(cache.lookup(at(FILE.replace('def main', 'def run'))), null);
    assert.equal(cache.lookup(at(FILE.replace('main()\n', 'main(1)\n'))), null);
  });
});

describe('lookback', () => {
  test('prefix minus 1–3 leading lines: an edit at the top of the prefix lines still hits', () => {
    const cache = new SuggestionCache();
    cache.store(at(FILE), COMPLETION);
    assert.deepEqual(cache.lookup(at(FILE.replace('import os', 'import sys'))), {
      completion: COMPLETION,
      source: 'lookback',
    });
  });

  test('up to 128 characters of the cursor line taken back', () => {
    const cache = new SuggestionCache({ maxForwardChars: 0 });
    cache.store(at(FILE), COMPLETION);
    assert.deepEqual(cache.lookup(at(FILE.replace(CURSOR, `os.getc${CURSOR}`))), {
      completion: 'wd()\n    print(path)',
      source: 'lookback',
    });
  });
});

describe('stats', () => {
  test('counts lookups, hits by source and misses', () => {
    const cache = new SuggestionCache();
    assert.deepEqual(cache.stats().hitRate, 0);
    cache.store(at(FILE), COMPLETION);
    cache.markShown(at(FILE), COMPLETION);
    cache.lookup(at(FILE.replace(CURSOR, `o${CURSOR}`)));
    cache.clearShown();
    cache.lookup(at(FILE.replace(CURSOR, `o${CURSOR}`)));
    cache.lookup(at(FILE));
    cache.lookup(at(FILE.replace(CURSOR, `zzz${CURSOR}`)));
    assert.deepEqual(cache.stats(), {
      lookups: 4,
      misses: 1,
      hits: { 'typing-through': 1, lru: 1, forwarding: 1, lookback: 0 },
      hitRate: 0.75,
    });
  });
});
