// The source layout rules (docs/architecture.md §4), as a test: file size limit, import direction with no circles,
// and the extension host's bundle holding no engine, decode, model, cache or prompt code (inference and tokenization
// stay off the main thread).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build } from 'esbuild';

const MAX_LINES = 400;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const files = sources('src');
const folderOf = (file: string) => relative('src', file).split('/')[0];
/** Relative imports of a file, resolved to source paths (`import type` included: it is still a dependency). */
function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/(?:from |import\()'(\.[^']+)'/g)]
    .map((m) => join(dirname(file), m[1]))
    .map((p) => (p.endsWith('.json') ? p : `${p}.ts`))
    .filter((p) => p.startsWith('src/'));
}

/** Which of our folders each folder may import: arrows point down only. */
const ALLOWED: Record<string, readonly string[]> = {
  protocol: [],
  model: [],
  prompt: ['protocol'],
  decode: ['model', 'protocol'],
  cache: ['model'],
  completion: ['protocol'],
  hub: ['model'],
  engine: ['model', 'decode', 'cache', 'prompt', 'protocol', 'hub'],
  server: ['engine', 'protocol'],
  cli: ['model', 'decode', 'cache', 'prompt', 'completion', 'engine', 'protocol', 'hub', 'server'],
  remote: ['completion', 'protocol'],
  extension: ['completion', 'engine', 'protocol', 'hub', 'remote'],
};

test(`every source file has at most ${MAX_LINES} lines`, () => {
  const long = files.filter((f) => readFileSync(f, 'utf8').split('\n').length > MAX_LINES);
  assert.deepEqual(long, []);
});

test('imports point down the layer list: nothing imports extension or cli, only extension imports vscode', () => {
  const bad: string[] = [];
  for (const file of files) {
    const folder = folderOf(file);
    if (/from 'vscode'/.test(readFileSync(file, 'utf8')) && folder !== 'extension') bad.push(`${file}: vscode`);
    for (const target of importsOf(file).map(folderOf)) {
      if (target !== folder && !(ALLOWED[folder] ?? []).includes(target)) bad.push(`${file} → ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('no import circles, between files or between folders', () => {
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((p) => p.endsWith('.ts'))]));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, stack: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') { cycles.push([...stack.slice(stack.indexOf(file)), file].join(' → ')); return; }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) visit(next, [...stack, file]);
    state.set(file, 'done');
  };
  for (const f of files) visit(f, []);
  assert.deepEqual(cycles, []);
  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    for (const other of allowed) assert.ok(!(ALLOWED[other] ?? []).includes(folder), `${folder} ⇄ ${other}`);
  }
});

test("the extension host's bundle is only extension, completion, the engine client and the protocol", async () => {
  const result = await build({
    entryPoints: ['src/extension/activate.ts'], bundle: true, platform: 'node', format: 'cjs', write: false, metafile: true,
    external: ['vscode', 'onnxruntime-node'], logLevel: 'silent', outfile: 'out/layout-probe.js',
  });
  const inputs = Object.keys(result.metafile.inputs).filter((p) => p.startsWith('src/'));
  const foreign = inputs.filter((p) => !/^src\/(extension|completion|protocol|remote)\//.test(p) && !['src/engine/client.ts', 'src/engine/provider-choice.ts', 'src/hub/presets.ts', 'src/hub/names.ts'].includes(p));
  assert.deepEqual(foreign, [], `the extension bundle holds ${foreign.join(', ')}`);
  assert.ok(!Object.keys(result.metafile.inputs).some((p) => p.includes('onnxruntime') || p.includes('@huggingface')), 'no onnxruntime or tokenizer code');
});
