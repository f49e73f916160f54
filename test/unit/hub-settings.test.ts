// The pure parts of src/hub/: where the cache, endpoint and token come from (as the Python and JS Hub clients
// resolve them), repo-id and revision checks, the cache paths, which files a pull keeps, and the presets' data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSafePath } from '../../src/hub/api';
import { linkTarget, repoCache, repoFolderName, snapshotPath } from '../../src/hub/cache';
import { safetensorsProblem } from '../../src/hub/digest';
import { HubError } from '../../src/hub/errors';
import { findPairPreset, PAIR_PRESETS, SDAR_MODELS } from '../../src/hub/presets';
import { isRuntimeFile } from '../../src/hub/pull';
import { repoIdProblem, resolveHubSettings, revisionProblem } from '../../src/hub/settings';

test('cache dir: --cache-dir > HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > HF_HOME/hub > XDG_CACHE_HOME/huggingface/hub > ~/.cache/huggingface/hub', () => {
  const home = '/home/u';
  const r = (given: object, env: NodeJS.ProcessEnv) => resolveHubSettings(given, env, home).cacheDir;
  const full = { HF_HUB_CACHE: '/a', HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c', XDG_CACHE_HOME: '/d' };
  assert.equal(r({ cacheDir: '/x' }, full), '/x');
  assert.equal(r({}, full), '/a');
  assert.equal(r({}, { ...full, HF_HUB_CACHE: '' }), '/b');
  assert.equal(r({}, { HF_HOME: '/c', XDG_CACHE_HOME: '/d' }), '/c/hub');
  assert.equal(r({}, { XDG_CACHE_HOME: '/d' }), '/d/huggingface/hub');
  assert.equal(r({}, {}), '/home/u/.cache/huggingface/hub');
});

test('endpoint: --endpoint > HF_ENDPOINT > huggingface.co, without a trailing slash; a non-http one is refused', () => {
  assert.equal(resolveHubSettings({ endpoint: 'http://127.0.0.1:8080/' }, { HF_ENDPOINT: 'https://m.example' }).endpoint, 'http://127.0.0.1:8080');
  assert.equal(resolveHubSettings({}, { HF_ENDPOINT: 'https://hf-mirror.com/' }).endpoint, 'https://hf-mirror.com');
  assert.equal(resolveHubSettings({}, {}).endpoint, 'https://huggingface.co');
  assert.throws(() => resolveHubSettings({ endpoint: 'ftp://x' }, {}), (e: unknown) => e instanceof HubError && e.kind === 'bad-input');
  assert.throws(() => resolveHubSettings({ endpoint: 'not a url' }, {}), /is not a URL/);
});

test("token: --token > HF_TOKEN > HUGGING_FACE_HUB_TOKEN > the login file (HF_TOKEN_PATH, else HF_HOME/token)", () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'simsd-hub-token-'));
  try {
    fs.writeFileSync(join(dir, 'token'), 'hf_from_file\n');
    const env = { HF_HOME: dir };
    assert.deepEqual(pick(resolveHubSettings({ token: 'hf_opt' }, { ...env, HF_TOKEN: 'hf_env' })), ['hf_opt', 'option']);
    assert.deepEqual(pick(resolveHubSettings({}, { ...env, HF_TOKEN: 'hf_env', HUGGING_FACE_HUB_TOKEN: 'hf_old' })), ['hf_env', 'HF_TOKEN']);
    assert.deepEqual(pick(resolveHubSettings({}, { ...env, HUGGING_FACE_HUB_TOKEN: 'hf_old' })), ['hf_old', 'HUGGING_FACE_HUB_TOKEN']);
    assert.deepEqual(pick(resolveHubSettings({}, env)), ['hf_from_file', 'token-file']);
    fs.writeFileSync(join(dir, 'other'), 'hf_other');
    assert.deepEqual(pick(resolveHubSettings({}, { ...env, HF_TOKEN_PATH: join(dir, 'other') })), ['hf_other', 'token-file']);
    assert.deepEqual(pick(resolveHubSettings({}, { HF_HOME: join(dir, 'none') })), [undefined, 'none']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function pick(s: { token?: string; tokenSource: string }): [string | undefined, string] {
  return [s.token, s.tokenSource];
}

test('repo ids and revisions: what the Hub allows, nothing that could leave the cache folder', () => {
  for (const ok of ['JetLM/SDAR-1.7B-Chat', 'gpt2', 'org_1/model.v2']) assert.equal(repoIdProblem(ok), null, ok);
  for (const bad of ['', '/x', 'a/', 'a/b/c', '../x', 'a/..', 'a/b--c', 'a/b.', '-a/b', 'a b/c', 'a/b\\c', `a/${'x'.repeat(97)}`]) {
    assert.notEqual(repoIdProblem(bad), null, bad);
  }
  for (const ok of ['main', 'v1.0', 'refs/pr/1', 'a'.repeat(40)]) assert.equal(revisionProblem(ok), null, ok);
  for (const bad of ['', '../x', 'a/../b', '/main', 'a//b', 'a b', 'main\0']) assert.notEqual(revisionProblem(bad), null, bad);
  for (const bad of ['', '../x', 'a/../b', '/abs', 'a//b', 'a\\b', 'x\0']) assert.equal(isSafePath(bad), false, bad);
  assert.equal(isSafePath('sub/model.safetensors'), true);
});

test('cache paths: models--ORG--NAME, relative links from any snapshot depth to blobs/', () => {
  assert.equal(repoFolderName('JetLM/SDAR-8B-Chat'), 'models--JetLM--SDAR-8B-Chat');
  assert.equal(repoFolderName('gpt2'), 'models--gpt2');
  const rc = repoCache('/c', 'JetLM/SDAR-8B-Chat');
  assert.equal(rc.lockFile, '/c/.locks/models--JetLM--SDAR-8B-Chat/simsd-pull.lock');
  assert.equal(snapshotPath(rc, 'abc', 'config.json'), '/c/models--JetLM--SDAR-8B-Chat/snapshots/abc/config.json');
  assert.equal(linkTarget(rc, 'abc', 'config.json', 'e1'), '../../blobs/e1');
  assert.equal(linkTarget(rc, 'abc', 'sub/dir/x.json', 'e1'), '../../../../blobs/e1');
});

test('a pull keeps the runtime files only: config, tokenizer files, chat template, top-level safetensors and index', () => {
  const kept = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja',
    'special_tokens_map.json', 'added_tokens.json', 'vocab.json', 'merges.txt', 'model.safetensors.index.json',
    'model-00001-of-00004.safetensors', 'model.safetensors', 'manifest.json'];
  const left = ['README.md', 'modeling_sdar.py', 'config copy.json', '.gitattributes', 'original/model.safetensors', 'pytorch_model.bin', 'model.gguf'];
  assert.deepEqual(kept.filter((p) => !isRuntimeFile(p)), []);
  assert.deepEqual(left.filter(isRuntimeFile), []);
});

test('the safetensors first-bytes check', () => {
  const head = (n: bigint, next: string) => Buffer.concat([Buffer.from(new BigUint64Array([n]).buffer), Buffer.from(next)]);
  assert.equal(safetensorsProblem(head(100n, '{'), 1000), null);
  assert.match(safetensorsProblem(head(100n, '<'), 1000) ?? '', /does not start with '\{'/);
  assert.match(safetensorsProblem(head(5000n, '{'), 1000) ?? '', /do not fit/);
  assert.match(safetensorsProblem(Buffer.from('<!DOCTYPE html>'), 1000) ?? '', /do not fit/);
  assert.match(safetensorsProblem(Buffer.from('{}'), 1000) ?? '', /only 2 bytes/);
});

test('presets: the paper pair and the 4B pair, consistent sizes, the target decides the provider', () => {
  assert.deepEqual(PAIR_PRESETS.map((p) => p.name), ['sdar-1.7b+8b', 'sdar-1.7b+4b']);
  const paper = findPairPreset('sdar-1.7b+8b');
  assert.deepEqual([paper?.draft, paper?.target], ['JetLM/SDAR-1.7B-Chat', 'JetLM/SDAR-8B-Chat']);
  assert.equal(findPairPreset('nope'), undefined);
  for (const p of PAIR_PRESETS) {
    const [d, t] = [SDAR_MODELS[p.draft], SDAR_MODELS[p.target]];
    assert.equal(p.downloadBytes, d.downloadBytes + t.downloadBytes);
    assert.equal(p.downloadGB, Math.round(p.downloadBytes / 1e8) / 10);
    assert.equal(p.memoryBytes, d.memoryBytes + t.memoryBytes);
    assert.deepEqual(p.providers, t.providers);
  }
  for (const m of Object.values(SDAR_MODELS)) {
    assert.equal(m.blockLength, 4);
    // BF16 download ≈ 2 bytes per parameter (+ tokenizer files); int4 well under a half of it.
    assert.ok(Math.abs(m.downloadBytes - 2 * m.parameters) < 50e6, m.repo);
    assert.ok(m.int4WeightBytes < m.downloadBytes / 2 && m.memoryBytes > m.int4WeightBytes, m.repo);
  }
  assert.deepEqual(SDAR_MODELS['JetLM/SDAR-8B-Chat'].providers, ['webgpu']);
  assert.ok(SDAR_MODELS['JetLM/SDAR-1.7B-Chat'].providers.includes('cpu'));
});
