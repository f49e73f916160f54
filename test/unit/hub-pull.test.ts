// pull() in process against the stand-in Hub on 127.0.0.1: the cache layout, resume after a dropped connection or
// an abort, verification (sha256 / git sha1, the safetensors header), the Hub's errors, reuse of a folder written by
// the Python client, the free-space check and the repo lock. Every test starts its own server and closes it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { openCheckpoint } from '../../src/model/checkpoint';
import { HubError, type HubErrorKind } from '../../src/hub/errors';
import { pull, type PullOptions, type PullProgress } from '../../src/hub/pull';
import { makeCheckpoint } from '../fixtures/tiny-checkpoint';
import { filesFromFolder, startHubServer, type HubServer, type StandInFile, type StandInRepo } from '../fixtures/hub-server';

const REPO = 'JetLM/SDAR-Tiny';
const WEIGHTS = 'model.safetensors';
let work = '';
let tiny: StandInFile[] = [];
let weights: Buffer = Buffer.alloc(0);

before(() => {
  work = fs.mkdtempSync(join(tmpdir(), 'simsd-hub-pull-'));
  makeCheckpoint(join(work, 'ckpt'), { seed: 3 });
  tiny = [
    ...filesFromFolder(join(work, 'ckpt')),
    { path: 'README.md', data: Buffer.from('# SDAR tiny\n') },
    { path: 'modeling_sdar.py', data: Buffer.from('# remote code, not needed\n') },
  ];
  weights = tiny.find((f) => f.path === WEIGHTS)?.data ?? Buffer.alloc(0);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

let cacheCount = 0;
function freshCache(): string {
  return join(work, `cache-${++cacheCount}`);
}

async function withHub(repos: readonly StandInRepo[], body: (hub: HubServer) => Promise<void>): Promise<void> {
  const hub = await startHubServer(repos);
  try { await body(hub); } finally { await hub.close(); }
}

function options(hub: HubServer, cacheDir: string, more: Partial<PullOptions> = {}): PullOptions {
  return { repo: REPO, endpoint: hub.endpoint, cacheDir, env: {}, tries: 4, backoffMs: 5, stallMs: 5000, ...more };
}

async function rejectsWith(promise: Promise<unknown>, kind: HubErrorKind, pattern: RegExp): Promise<HubError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof HubError, `expected a HubError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err;
  }
  assert.fail(`expected a '${kind}' HubError`);
}

const repoDir = (cacheDir: string) => join(cacheDir, 'models--JetLM--SDAR-Tiny');
const ranged = (hub: HubServer, path: string) => hub.downloads(REPO, path).filter((r) => r.range !== null).map((r) => Number(/bytes=(\d+)-/.exec(r.range ?? '')?.[1]));

test('a full pull writes the standard Hub cache layout, and the snapshot is a checkpoint', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny }], async (hub) => {
    const cacheDir = freshCache();
    const seen: PullProgress[] = [];
    const r = await pull(options(hub, cacheDir, { onProgress: (p) => seen.push(p), progressIntervalMs: 0 }));
    const commit = hub.commitOf(REPO);
    assert.equal(r.commit, commit);
    assert.equal(r.path, join(repoDir(cacheDir), 'snapshots', commit));
    assert.deepEqual(r.files.map((f) => f.path).sort(), ['config.json', 'generation_config.json', WEIGHTS, 'tokenizer.json', 'tokenizer_config.json']);
    assert.equal(r.bytes, r.totalBytes);
    assert.equal(r.resumedBytes, 0);
    assert.ok(hub.requests.filter((q) => q.url.includes('/tree/')).length > 1, 'the listing was paginated');
    // refs/main holds the commit, without a newline.
    assert.equal(fs.readFileSync(join(repoDir(cacheDir), 'refs', 'main'), 'utf8'), commit);
    for (const f of tiny.filter((t) => r.files.some((x) => x.path === t.path))) {
      const etag = f.path.endsWith('.safetensors') ? sha256(f.data) : gitSha1(f.data);
      const entry = join(r.path, f.path);
      assert.ok(fs.lstatSync(entry).isSymbolicLink(), `${f.path} is a symlink`);
      assert.equal(fs.readlinkSync(entry), `../../blobs/${etag}`, `${f.path} links relatively to its blob`);
      assert.deepEqual(fs.readFileSync(entry), f.data);
      assert.deepEqual(fs.readFileSync(join(repoDir(cacheDir), 'blobs', etag)), f.data);
    }
    assert.deepEqual(fs.readdirSync(join(repoDir(cacheDir), 'blobs')).filter((n) => n.includes('.')), [], 'no .incomplete or temporary file left');
    const checkpoint = openCheckpoint(r.path);
    assert.equal(checkpoint.config.blockLength, 4);
    checkpoint.close();
    // Progress: bytes never go down, and the last report says done with everything on disk.
    assert.ok(seen.every((p, i) => i === 0 || p.bytes >= seen[i - 1].bytes));
    assert.deepEqual([seen.at(-1)?.phase, seen.at(-1)?.bytes], ['done', r.totalBytes]);
    // A second pull fetches nothing.
    const before = hub.downloads(REPO).length;
    const progress: PullProgress[] = [];
    const again = await pull(options(hub, cacheDir, { onProgress: (p) => progress.push(p), progressIntervalMs: 0 }));
    assert.equal(hub.downloads(REPO).length, before);
    assert.deepEqual([again.bytes, again.reusedBytes], [0, r.totalBytes]);
    // Files already in the cache count once: progress never passes the total, and ends on it.
    assert.ok(progress.every((p) => p.bytes <= p.totalBytes), `progress passed the total: ${Math.max(...progress.map((p) => p.bytes))} > ${r.totalBytes}`);
    assert.deepEqual([progress.at(-1)?.phase, progress.at(-1)?.bytes], ['done', r.totalBytes]);
    assert.ok(again.files.every((f) => f.source === 'cached'));
  });
});

test('a connection dropped mid-file is resumed with Range; fewer bytes are re-sent than the file holds', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny }], async (hub) => {
    // A slight trickle, so that the bytes before each drop reach the client (a reset discards what is still buffered).
    hub.setFault(REPO, WEIGHTS, { dropAfterBytes: 40_000, dropRequests: 2, trickle: { chunkBytes: 8192, intervalMs: 3 } });
    const r = await pull(options(hub, freshCache()));
    const file = r.files.find((f) => f.path === WEIGHTS);
    assert.equal(file?.etag, sha256(weights));
    assert.deepEqual(ranged(hub, WEIGHTS).filter((n) => n > 0).length, 2, 'two ranged requests from non-zero offsets');
    const served = hub.served.get(`${REPO}/${WEIGHTS}`) ?? 0;
    assert.ok(served >= weights.length && served - weights.length < weights.length, `served ${served} for a ${weights.length}-byte file`);
    assert.deepEqual(fs.readFileSync(join(r.path, WEIGHTS)), weights);
  });
});

test('a server that answers a ranged request with 200 restarts the file cleanly', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny }], async (hub) => {
    hub.setFault(REPO, WEIGHTS, { dropAfterBytes: 30_000, ignoreRange: true, trickle: { chunkBytes: 8192, intervalMs: 3 } });
    const r = await pull(options(hub, freshCache()));
    assert.ok(ranged(hub, WEIGHTS).some((n) => n > 0), 'it asked for a range');
    assert.deepEqual(fs.readFileSync(join(r.path, WEIGHTS)), weights);
  });
});

test('a connection that keeps dropping with no progress ends as a network error that names the file', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny }], async (hub) => {
    hub.setFault(REPO, WEIGHTS, { dropAfterBytes: 0, dropRequests: 100 });
    await rejectsWith(pull(options(hub, freshCache(), { tries: 3 })), 'network', /model\.safetensors.*cannot reach .*after 3 tries/);
  });
});

test('a corrupted byte is refused: the error names the file, and nothing reaches blobs or the snapshot', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny }], async (hub) => {
    hub.setFault(REPO, WEIGHTS, { corruptByte: 5000 });
    const cacheDir = freshCache();
    await rejectsWith(pull(options(hub, cacheDir)), 'corrupt', /SDAR-Tiny \(model\.safetensors\): the downloaded file is corrupt \(sha256 [0-9a-f]{64}, the Hub lists [0-9a-f]{64}\)/);
    const commit = hub.commitOf(REPO);
    assert.ok(!fs.existsSync(join(repoDir(cacheDir), 'snapshots', commit, WEIGHTS)));
    assert.deepEqual(fs.readdirSync(join(repoDir(cacheDir), 'blobs')).filter((n) => n.startsWith(sha256(weights))), [], 'no blob and no part');
  });
});

test('a gated repo: 401 without a token, 403 with a wrong one, success with HF_TOKEN or the token option', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny, token: 'hf_stand_in' }], async (hub) => {
    await rejectsWith(pull(options(hub, freshCache())), 'unauthorized', /SDAR-Tiny.*401.*gated or missing token: set HF_TOKEN, or `simsd pull --token …`, or in VS Code: SimSD: Set Hugging Face Token/);
    await rejectsWith(pull(options(hub, freshCache(), { token: 'hf_wrong' })), 'forbidden', /SDAR-Tiny.*403/);
    const viaEnv = await pull(options(hub, freshCache(), { env: { HF_TOKEN: 'hf_stand_in' } }));
    assert.equal(viaEnv.files.length, 5);
    const viaOption = await pull(options(hub, freshCache(), { token: 'hf_stand_in', env: { HF_TOKEN: 'hf_wrong' } }));
    assert.equal(viaOption.files.length, 5);
    assert.ok(hub.requests.filter((q) => q.url.includes('/resolve/')).every((q) => q.authorization !== null), 'the token went with every resolve request');
  });
});

test('404s say which: no such repo, no such revision, no such file', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny, missing: ['tokenizer.json'] }], async (hub) => {
    const repo = await rejectsWith(pull(options(hub, freshCache(), { repo: 'JetLM/SDAR-Nope' })), 'repo-not-found', /JetLM\/SDAR-Nope: no such model repository/);
    const revision = await rejectsWith(pull(options(hub, freshCache(), { revision: 'v9' })), 'revision-not-found', /SDAR-Tiny: no revision 'v9'/);
    const file = await rejectsWith(pull(options(hub, freshCache())), 'file-not-found', /SDAR-Tiny: the Hub has no file tokenizer\.json/);
    assert.equal(new Set([repo.message, revision.message, file.message]).size, 3);
    assert.equal(file.file, 'tokenizer.json');
  });
});

test('an HTML page served with status 200 is refused as not-weights, and nothing is saved', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny }], async (hub) => {
    hub.setFault(REPO, WEIGHTS, { html: true });
    const cacheDir = freshCache();
    await rejectsWith(pull(options(hub, cacheDir)), 'not-weights', /SDAR-Tiny \(model\.safetensors\): the Hub sent an HTML page instead of the file/);
    assert.deepEqual(fs.readdirSync(join(repoDir(cacheDir), 'blobs')).filter((n) => n.startsWith(sha256(weights))), []);
  });
});

test('a safetensors body without the safetensors header is refused by its first bytes', { timeout: 20_000 }, async () => {
  const fake = Buffer.from('PK\x03\x04 this is a zip, not a safetensors file '.repeat(10));
  const files = tiny.map((f) => (f.path === WEIGHTS ? { ...f, data: fake } : f));
  await withHub([{ id: REPO, files }], async (hub) => {
    const cacheDir = freshCache();
    await rejectsWith(pull(options(hub, cacheDir)), 'not-weights', /model\.safetensors\): the Hub sent something that is not a safetensors file/);
    assert.deepEqual(fs.readdirSync(join(repoDir(cacheDir), 'blobs')).filter((n) => n.startsWith(sha256(fake))), [], 'no part kept');
  });
});

test('a repo without safetensors weights is refused before any download', { timeout: 20_000 }, async () => {
  const files = tiny.filter((f) => !f.path.endsWith('.safetensors'));
  await withHub([{ id: REPO, files }], async (hub) => {
    await rejectsWith(pull(options(hub, freshCache())), 'not-weights', /no config\.json and \*\.safetensors/);
    assert.equal(hub.downloads(REPO).length, 0);
  });
});

test("a folder in the Python client's layout is reused without any download; a corrupt one is refused, untouched", { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny }], async (hub) => {
    const cacheDir = freshCache();
    const commit = hub.commitOf(REPO);
    const root = repoDir(cacheDir);
    fs.mkdirSync(join(root, 'blobs'), { recursive: true });
    fs.mkdirSync(join(root, 'snapshots', commit), { recursive: true });
    fs.mkdirSync(join(root, 'refs'), { recursive: true });
    fs.writeFileSync(join(root, 'refs', 'main'), commit);
    for (const f of tiny.filter((t) => !t.path.endsWith('.md') && !t.path.endsWith('.py'))) {
      const etag = f.path.endsWith('.safetensors') ? sha256(f.data) : gitSha1(f.data);
      if (f.path === 'config.json') {
        fs.writeFileSync(join(root, 'snapshots', commit, f.path), f.data); // a copy, as on Windows without links
        continue;
      }
      fs.writeFileSync(join(root, 'blobs', etag), f.data);
      fs.symlinkSync(`../../blobs/${etag}`, join(root, 'snapshots', commit, f.path));
    }
    const r = await pull(options(hub, cacheDir));
    assert.equal(hub.downloads(REPO).length, 0, 'no resolve request');
    assert.ok(r.files.every((f) => f.source === 'cached'));
    assert.deepEqual([r.bytes, r.reusedBytes], [0, r.totalBytes]);
    // One flipped byte in the Python client's blob: refused by name, and left as it is.
    const blob = join(root, 'blobs', sha256(weights));
    const bad = Buffer.from(weights);
    bad[100] ^= 1;
    fs.writeFileSync(blob, bad);
    await rejectsWith(pull(options(hub, cacheDir)), 'corrupt', /model\.safetensors\): .*blobs\/[0-9a-f]{64} is already in the cache but its sha256 is/);
    assert.deepEqual(fs.readFileSync(blob), bad);
    assert.equal(hub.downloads(REPO).length, 0);
  });
});

test('not enough free space is refused before any download, naming the need and the free space', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny, declaredSizes: { [WEIGHTS]: 4e15 } }], async (hub) => {
    const cacheDir = freshCache();
    await rejectsWith(pull(options(hub, cacheDir)), 'disk-full', /SDAR-Tiny: needs 4000000\.\d\d GB more but only .* are free on /);
    assert.equal(hub.downloads(REPO).length, 0);
    assert.ok(!fs.existsSync(repoDir(cacheDir)), 'nothing was written');
  });
});

test('an abort keeps the partial file, and the next pull resumes it with a ranged request', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny }], async (hub) => {
    const cacheDir = freshCache();
    hub.setFault(REPO, WEIGHTS, { trickle: { chunkBytes: 16_384, intervalMs: 15 } });
    const controller = new AbortController();
    const onProgress = (p: PullProgress) => { if (p.file === WEIGHTS && p.fileBytes >= 64 * 1024) controller.abort(); };
    await assert.rejects(pull(options(hub, cacheDir, { signal: controller.signal, onProgress, progressIntervalMs: 0 })), { name: 'AbortError' });
    const part = join(repoDir(cacheDir), 'blobs', `${sha256(weights)}.incomplete`);
    const kept = fs.statSync(part).size;
    assert.ok(kept >= 64 * 1024 && kept < weights.length, `kept ${kept} bytes`);
    assert.ok(!fs.existsSync(join(repoDir(cacheDir), 'snapshots', hub.commitOf(REPO), WEIGHTS)));
    hub.setFault(REPO, WEIGHTS, undefined);
    const r = await pull(options(hub, cacheDir));
    assert.deepEqual(ranged(hub, WEIGHTS), [kept]);
    assert.equal(r.resumedBytes, kept);
    assert.equal(r.files.find((f) => f.path === WEIGHTS)?.source, 'resumed');
    assert.ok((hub.served.get(`${REPO}/${WEIGHTS}`) ?? 0) < 2 * weights.length);
    assert.deepEqual(fs.readFileSync(join(r.path, WEIGHTS)), weights);
  });
});

test("a live pull's lock makes a second pull of the repo wait its turn; a dead one's lock is taken over", { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny }], async (hub) => {
    const cacheDir = freshCache();
    const lock = join(cacheDir, '.locks', 'models--JetLM--SDAR-Tiny', 'simsd-pull.lock');
    fs.mkdirSync(resolve(lock, '..'), { recursive: true });
    fs.writeFileSync(lock, String(process.pid));
    await rejectsWith(pull(options(hub, cacheDir)), 'busy', new RegExp(`another simsd pull \\(pid ${process.pid}\\)`));
    const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid;
    fs.writeFileSync(lock, String(dead));
    await pull(options(hub, cacheDir));
    assert.ok(!fs.existsSync(lock), 'released');
  });
});

test('bad repo ids and revisions are refused before any request', { timeout: 20_000 }, async () => {
  await withHub([{ id: REPO, files: tiny }], async (hub) => {
    for (const repo of ['a/b/c', '../etc', 'JetLM/x--y', 'JetLM/', 'Jet LM/x']) {
      await rejectsWith(pull(options(hub, freshCache(), { repo })), 'bad-input', /Hub repository id|'--' or '\.\.'|more than one/);
    }
    await rejectsWith(pull(options(hub, freshCache(), { revision: '../main' })), 'bad-input', /not a usable revision/);
    assert.equal(hub.requests.length, 0);
  });
});
