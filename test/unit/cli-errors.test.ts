// `node dist/cli.js …` as a user runs it: a user-caused error is exactly one line on stderr starting `simsd: `,
// exit code 2 and no stack trace; an internal error is one line and exit code 1; --verbose adds the stack.
// Needs `node esbuild.mjs` first. Spawns run the embedded pair (models/) with a few tokens each.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../../src/cli/args';
import { reportError } from '../../src/cli/errors';
import { CheckpointError, RequestError } from '../../src/model/errors';

const CLI = resolve('dist/cli.js');
let work = '';
let cacheDir = '';

before(() => {
  assert.ok(existsSync(CLI), 'dist/cli.js is missing: build with `node esbuild.mjs` first');
  work = mkdtempSync(join(tmpdir(), 'simsd-cli-errors-'));
  cacheDir = join(work, 'cache');
});
after(() => rmSync(work, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** rc 2, exactly one stderr line starting `simsd: ` that matches `pattern`, and no stack frame anywhere. */
function userError(args: readonly string[], pattern: RegExp): string {
  const r = cli(...args);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(r.status, 2, `${args.join(' ')}\n${r.stderr}`);
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0].startsWith('simsd: '), lines[0]);
  assert.match(lines[0], pattern);
  assert.ok(!/^\s+at /m.test(r.stderr + r.stdout), r.stderr);
  return lines[0];
}

const GEN = () => ['generate', '--target', 'models/target', '--cache-dir', cacheDir, '--max-tokens', '4'];

test('reportError: user errors are one line and rc 2; others are internal errors, rc 1; stacks only with verbose', () => {
  const fsError = (() => { try { readFileSync('/nonexistent/p.txt'); } catch (e) { return e; } return null; })();
  const cases: [unknown, string, number][] = [
    [new UsageError('--threads must be an integer'), 'simsd: --threads must be an integer', 2],
    [new RequestError('token id 9 is outside'), 'simsd: token id 9 is outside', 2],
    [new CheckpointError('/m/config.json', 'bad-config', 'not valid JSON'), 'simsd: /m/config.json: not valid JSON', 2],
    [fsError, 'simsd: cannot open /nonexistent/p.txt: no such file or folder', 2],
    [new Error('boom\n  second line'), 'simsd: internal error: boom second line', 1],
    [Object.assign(new Error('bad arg'), { code: 'ERR_INVALID_ARG_TYPE' }), 'simsd: internal error: bad arg', 1],
    ['a string', 'simsd: internal error: a string', 1],
  ];
  for (const [err, line, code] of cases) {
    assert.deepEqual(reportError(err, false), { lines: [line], exitCode: code });
    const verbose = reportError(err, true);
    assert.equal(verbose.lines[0], line);
    if (err instanceof Error) assert.ok(verbose.lines.slice(1).some((l) => /^\s+at /.test(l)), String(err));
  }
});

test('a misspelled flag, --ep cuda, --threads abc and profile --rows 0 are refused before any model loads', () => {
  userError([...GEN(), '--prompt', 'x', '--strategey', 'simsd'], /^simsd: unknown option --strategey for generate; did you mean --strategy\?/);
  userError([...GEN(), '--prompt', 'x', '--ep', 'cuda'], /^simsd: --ep must be one of cpu\|webgpu\|auto, got 'cuda'$/);
  userError([...GEN(), '--prompt', 'x', '--precision', 'fp16'], /^simsd: --precision fp16 needs WebGPU \(--ep webgpu\)/);
  userError([...GEN(), '--prompt', 'x', '--threads', 'abc'], /^simsd: --threads must be an integer in \[1, 1024\], got 'abc'$/);
  userError(['profile', '/nonexistent', '--rows', '0'], /^simsd: --rows: '0' \(position 1\) is not an integer in \[1, 4096\]$/);
});

test('--prompt-ids: empty entries refused at parse time, ids beyond the vocabulary after the target loads', () => {
  userError([...GEN(), '--prompt-ids', '4294967295'], /^simsd: --prompt-ids: token id 4294967295 \(position 1\) is outside the target's vocabulary of 4096 ids/);
  userError([...GEN(), '--prompt-ids', ''], /^simsd: --prompt-ids has an empty entry at position 1 in ''/);
  userError([...GEN(), '--prompt-ids', ','], /^simsd: --prompt-ids has an empty entry at position 1 in ','/);
  userError([...GEN(), '--prompt-ids', '1,,2'], /^simsd: --prompt-ids has an empty entry at position 2 in '1,,2'/);
  userError([...GEN(), '--prompt-ids', '1', '--prompt', 'x'], /^simsd: give only one of --prompt, --prompt-ids$/);
});

test('bench --prompts: a bad id list or a non-JSON line names FILE:LINE; an id beyond the vocabulary too', () => {
  const bench = (file: string) => ['bench', '--target', 'models/target', '--draft', 'models/draft', '--cache-dir', cacheDir, '--max-tokens', '4', '--prompts', file];
  const ids = join(work, 'ids.jsonl');
  writeFileSync(ids, '{"prompt": "def f("}\n{"ids":[1,"a",null]}\n');
  userError(bench(ids), new RegExp(`^simsd: ${ids}:2: "ids"\\[1\\] is "a", not a non-negative integer token id$`));
  const text = join(work, 'text.jsonl');
  writeFileSync(text, '{"prompt": "def f("}\n\ndef g():\n');
  userError(bench(text), new RegExp(`^simsd: ${text}:3: not valid JSON \\(`));
  const vocab = join(work, 'vocab.jsonl');
  writeFileSync(vocab, '{"ids":[1,2]}\n{"ids":[3,4096]}\n');
  userError(bench(vocab), new RegExp(`^simsd: ${vocab}:2: token id 4096 \\(position 2\\) is outside the target's vocabulary of 4096 ids`));
  userError(bench(join(work, 'missing.jsonl')), /^simsd: cannot read .*missing\.jsonl: no such file or folder$/);
});

test('file-system errors name the path: ENOENT on --prompt-file and inspect, EISDIR on --prompt-file /tmp', () => {
  userError([...GEN(), '--prompt-file', '/nonexistent'], /^simsd: cannot read \/nonexistent: no such file or folder$/);
  userError(['inspect', '/nonexistent'], /^simsd: cannot read \/nonexistent: no such file or folder$/);
  userError([...GEN(), '--prompt-file', '/tmp'], /^simsd: cannot read \/tmp: is a folder, not a file$/);
  userError(['demo', '--file', '/nonexistent/sample.py'], /^simsd: cannot read \/nonexistent\/sample\.py: no such file or folder$/);
  userError(['trace', '--file', '/tmp'], /^simsd: cannot read \/tmp: is a folder, not a file$/);
  userError(['inspect', 'models/target/config.json'], /^simsd: models\/target\/config\.json is a file; inspect needs a folder$/);
  userError(['trace', '--target', '/nonexistent', '--steps', '5'], /^simsd: \/nonexistent: model folder not found$/);
});

test('--verbose is accepted by every command and adds the stack of a RequestError after the one line', () => {
  const r = cli(...GEN(), '--prompt-ids', '4096', '--verbose');
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.match(lines[0], /^simsd: --prompt-ids: token id 4096/);
  assert.match(lines[1], /^RequestError: /);
  assert.ok(lines.slice(2).length > 0 && lines.slice(2).every((l) => /^\s+at /.test(l)), r.stderr);
  for (const args of [['inspect', '/nonexistent'], ['profile', '/nonexistent'], ['demo', '--file', '/nonexistent'], ['trace', '--file', '/nonexistent'], ['convert', '/nonexistent', '--out', join(work, 'o')], ['bench', '--prompts', '/nonexistent']]) {
    const v = cli(...args, '--verbose');
    assert.equal(v.status, 2, v.stderr);
    assert.match(v.stderr, /^simsd: cannot read \/nonexistent: no such file or folder\n/);
  }
});

test('an error no layer classifies (onnxruntime refusing a truncated model.onnx) is an internal error, rc 1', () => {
  const converted = join(work, 'converted');
  const c = cli('convert', 'models/draft', '--out', converted, '--weights', 'fp32');
  assert.equal(c.status, 0, c.stderr);
  const broken = join(work, 'broken');
  cpSync(converted, broken, { recursive: true });
  truncateSync(join(broken, 'model.onnx'), 100);
  const r = cli('profile', broken, '--repeats', '1', '--rows', '4');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(r.status, 1, r.stderr);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^simsd: internal error: /);
  const v = cli('profile', broken, '--repeats', '1', '--rows', '4', '--verbose');
  assert.equal(v.status, 1, v.stderr);
  assert.ok(/^simsd: internal error: /.test(v.stderr) && /^\s+at /m.test(v.stderr), v.stderr);
});

test('valid input still runs: generate with a few tokens prints one JSON object last', () => {
  const r = cli(...GEN(), '--draft', 'models/draft', '--prompt', 'def f(', '--json');
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { tokenIds: number[]; finishReason: string };
  assert.equal(result.tokenIds.length, 4);
  assert.equal(result.finishReason, 'length');
});
