// The source layout rules of style.md, as a test: file size limit, import direction, and the extension host's
// bundle never loading onnxruntime (inference stays off the main thread).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const MAX_LINES = 400;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const files = sources('src');
const folderOf = (file: string) => relative('src', file).split('/')[0];
const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);

/** Which of our folders each folder may import (style.md §2; engine and cli may use completion's pure prompt code). */
const ALLOWED: Record<string, readonly string[]> = {
  model: [],
  decode: ['model'],
  cache: ['model'],
  completion: ['model', 'decode', 'engine'],
  engine: ['model', 'decode', 'cache', 'completion'],
  cli: ['model', 'decode', 'cache', 'completion', 'engine'],
  extension: ['completion', 'engine', 'decode', 'model'],
};

test(`every source file has at most ${MAX_LINES} lines`, () => {
  const long = files.filter((f) => readFileSync(f, 'utf8').split('\n').length > MAX_LINES);
  assert.deepEqual(long, []);
});

test('imports follow the layout: nothing imports extension, model imports nothing of ours, only extension imports vscode', () => {
  const bad: string[] = [];
  for (const file of files) {
    const folder = folderOf(file);
    for (const spec of importsOf(file)) {
      if (spec === 'vscode' && folder !== 'extension') bad.push(`${file}: vscode`);
      if (!spec.startsWith('.')) continue;
      const target = folderOf(join(dirname(file), spec));
      if (target !== folder && !(ALLOWED[folder] ?? []).includes(target)) bad.push(`${file} → ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the extension host never loads onnxruntime; only type imports reach the engine from completion', () => {
  for (const file of files.filter((f) => ['extension', 'completion'].includes(folderOf(f)) || /engine\/(host|transport|protocol|scheduler)\.ts$/.test(f))) {
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes("'onnxruntime-node'"), `${file} imports onnxruntime-node`);
    if (folderOf(file) === 'completion') {
      for (const m of text.matchAll(/^import (type )?.*from '\.\.\/engine\/[^']+';$/gm)) assert.ok(m[1], `${file}: a value import from engine`);
    }
  }
  if (existsSync('dist/extension.js')) assert.ok(!readFileSync('dist/extension.js', 'utf8').includes('onnxruntime-node'), 'dist/extension.js references onnxruntime-node');
});
