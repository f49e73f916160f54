// `pull`: one model repository from the Hub into the standard Hub cache, resumable and verified.
// planPull resolves the commit, lists the files the runtime needs and looks at what the cache already holds (files
// in a snapshot or blob written by any Hub client are verified and reused; `.incomplete` parts are resumed); pull
// checks the free space, downloads what is missing one file after another, links each verified blob into
// `snapshots/{commit}/` and writes `refs/{revision}`. A cancel (AbortSignal) or a killed process keeps the parts.
import { performance } from 'node:perf_hooks';
import { etagOf, listFiles, resolveCommit, type HubContext, type RepoFile } from './api';
import { acquireLock, blobPath, freeBytes, linkIntoSnapshot, partPath, repoCache, snapshotDir, snapshotEntry, snapshotPath, statOrNull, writeRef, type RepoCache } from './cache';
import { digestName, hashFile } from './digest';
import { downloadBlob } from './download';
import { HubError } from './errors';
import { repoIdProblem, resolveHubSettings, revisionProblem, type HubSettings, type HubSettingsInput } from './settings';

export interface PullOptions extends HubSettingsInput {
  readonly repo: string;                        // ORG/NAME, e.g. JetLM/SDAR-1.7B-Chat
  readonly revision?: string;                   // branch, tag or commit; default main
  readonly env?: NodeJS.ProcessEnv;             // where HF_* are read; default process.env
  readonly signal?: AbortSignal;                // abort: the pull rejects with an AbortError, parts are kept
  readonly onProgress?: (progress: PullProgress) => void;
  readonly progressIntervalMs?: number;         // onProgress at most this often (file starts and ends always); default 100
  readonly tries?: number;                      // attempts per request without progress; default 5
  readonly backoffMs?: number;                  // first retry delay, doubled per retry; default 500
  readonly stallMs?: number;                    // a connection idle this long counts as dropped; default 30000
  readonly reserveBytes?: number;               // bytes still needed on the same disk after this pull (a pair's other model)
}

export interface PullProgress {
  readonly repo: string;
  readonly phase: 'verify' | 'download' | 'done'; // verify: hashing files already on disk
  readonly file: string;
  readonly fileBytes: number;                   // of the current file, on disk
  readonly fileSize: number;
  readonly bytes: number;                       // of the whole snapshot, on disk (reused and resumed bytes included)
  readonly totalBytes: number;
  readonly resumedBytes: number;                // bytes of earlier partial downloads kept, not fetched again
  readonly bytesPerSecond: number;              // network rate over the last few seconds
  readonly etaSeconds: number | null;           // null until a rate is known
}

export interface PulledFile {
  readonly path: string;
  readonly size: number;
  readonly etag: string;                        // the blob's name: sha256 (LFS) or git sha1
  readonly lfs: boolean;
  readonly source: 'cached' | 'resumed' | 'downloaded';
}

export interface PullResult {
  readonly repo: string;
  readonly revision: string;
  readonly commit: string;
  readonly path: string;                        // the snapshot folder: a checkpoint folder SimSD opens
  readonly cacheDir: string;
  readonly files: readonly PulledFile[];
  readonly totalBytes: number;
  readonly bytes: number;                       // received over the network by this pull
  readonly resumedBytes: number;                // kept from earlier partial downloads
  readonly reusedBytes: number;                 // whole files already in the cache
  readonly seconds: number;
}

export interface PlannedFile {
  readonly file: RepoFile;
  readonly cached: boolean;                     // a verified copy is in the cache already
  readonly partBytes: number;                   // bytes of an `.incomplete` part to resume
}

export interface PullPlan {
  readonly repo: string;
  readonly revision: string;
  readonly commit: string;
  readonly settings: HubSettings;
  readonly cache: RepoCache;
  readonly files: readonly PlannedFile[];
  readonly totalBytes: number;
  readonly bytesToFetch: number;
}

/** The files the runtime reads; everything else (remote code, README, images, other formats) is left on the Hub. */
const RUNTIME_FILES = new Set([
  'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja',
  'special_tokens_map.json', 'added_tokens.json', 'vocab.json', 'merges.txt', 'model.safetensors.index.json',
  'manifest.json', // the export manifest our own trained checkpoints carry (trained context, FIM verdict)
]);

export function isRuntimeFile(path: string): boolean {
  return !path.includes('/') && (RUNTIME_FILES.has(path) || path.endsWith('.safetensors'));
}

function context(options: PullOptions, settings: HubSettings): HubContext {
  return {
    endpoint: settings.endpoint, token: settings.token, signal: options.signal,
    stallMs: options.stallMs ?? 30_000, tries: Math.max(1, options.tries ?? 5), backoffMs: options.backoffMs ?? 500,
  };
}

export async function planPull(options: PullOptions, onProgress?: (p: PullProgress) => void): Promise<PullPlan> {
  const { repo } = options;
  const revision = options.revision ?? 'main';
  const problem = repoIdProblem(repo) ?? revisionProblem(revision);
  if (problem !== null) throw new HubError('bad-input', repo, problem);
  const settings = resolveHubSettings(options, options.env ?? process.env);
  const ctx = context(options, settings);
  const commit = await resolveCommit(ctx, repo, revision);
  const listed = await listFiles(ctx, repo, commit);
  const wanted = listed.filter((f) => isRuntimeFile(f.path))
    .sort((a, b) => Number(a.path.endsWith('.safetensors')) - Number(b.path.endsWith('.safetensors')) || (a.path < b.path ? -1 : 1));
  if (!wanted.some((f) => f.path === 'config.json') || !wanted.some((f) => f.path.endsWith('.safetensors'))) {
    throw new HubError('not-weights', repo, `${repo}: no config.json and *.safetensors at ${revision} (${commit.slice(0, 12)}): not a checkpoint SimSD can run (it needs safetensors weights, e.g. JetLM/SDAR-1.7B-Chat)`);
  }
  const cache = repoCache(settings.cacheDir, repo);
  const totalBytes = wanted.reduce((a, f) => a + f.size, 0);
  const files: PlannedFile[] = [];
  for (const file of wanted) {
    options.signal?.throwIfAborted();
    const cached = await verifyCached(cache, commit, file, (done) => onProgress?.({
      repo, phase: 'verify', file: file.path, fileBytes: done, fileSize: file.size, bytes: 0, totalBytes, resumedBytes: 0, bytesPerSecond: 0, etaSeconds: null,
    }));
    const part = cached ? null : statOrNull(partPath(cache, etagOf(file)));
    files.push({ file, cached, partBytes: part?.isFile() && part.size <= file.size ? part.size : 0 });
  }
  const bytesToFetch = files.reduce((a, p) => a + (p.cached ? 0 : p.file.size - p.partBytes), 0);
  return { repo, revision, commit, settings, cache, files, totalBytes, bytesToFetch };
}

/**
 * True when the cache holds `file` already: in the snapshot (a link or a copy, by any Hub client) or as a blob.
 * Size and hash are checked (sha256 for LFS files, git sha1 otherwise); a mismatch is an error that names the file,
 * since it is not ours to replace.
 */
async function verifyCached(cache: RepoCache, commit: string, file: RepoFile, onBytes: (done: number) => void): Promise<boolean> {
  const entry = snapshotEntry(cache, commit, file.path, etagOf(file));
  const blob = blobPath(cache, etagOf(file));
  const at = entry.kind === 'other' ? snapshotPath(cache, commit, file.path) : statOrNull(blob)?.isFile() ? blob : null;
  if (at === null) return false;
  const size = entry.kind === 'other' ? entry.size : statOrNull(blob)?.size ?? null;
  const refuse = (why: string) => new HubError('corrupt', cache.repo, `${cache.repo} (${file.path}): ${at} is already in the cache but ${why}; move it away and run the pull again`, file.path);
  if (size === null) throw refuse('is not a readable file');
  if (size !== file.size) throw refuse(`has ${size} bytes, the Hub lists ${file.size}`);
  const { digest } = await hashFile(at, file, onBytes);
  if (digest !== etagOf(file)) throw refuse(`its ${digestName(file)} is ${digest}, the Hub lists ${etagOf(file)}`);
  return true;
}

/** Pulls `options.repo` (planning first unless `plan` is given, e.g. by a pair that checked the disk for both). */
export async function pull(options: PullOptions, plan?: PullPlan): Promise<PullResult> {
  const started = performance.now();
  const meter = progressMeter(options, started);
  const p = plan ?? await planPull(options, options.onProgress);
  const { cache, commit, repo } = p;
  const need = p.bytesToFetch + (options.reserveBytes ?? 0);
  const disk = freeBytes(cache.root);
  if (need > disk.free) {
    throw new HubError('disk-full', repo, `${repo}: needs ${gb(need)} more${options.reserveBytes ? ` (${gb(p.bytesToFetch)} for this model)` : ''} but only ${gb(disk.free)} are free on ${disk.on}; free some space, or pull into a bigger disk with --cache-dir or HF_HUB_CACHE`);
  }
  const release = acquireLock(cache);
  const files: PulledFile[] = [];
  let done = p.files.reduce((a, f) => a + (f.cached ? f.file.size : 0), 0);
  const reusedBytes = done;
  let received = 0;
  let resumed = 0;
  try {
    for (const planned of p.files) {
      const { file } = planned;
      options.signal?.throwIfAborted();
      const etag = etagOf(file);
      let source: PulledFile['source'] = 'cached';
      if (!planned.cached && !(await verifyCached(cache, commit, file, () => {}))) {
        const ctx = context(options, p.settings);
        const before = received;
        meter.emit(repo, 'download', file, 0, done, p.totalBytes, resumed, received, true);
        const r = await downloadBlob({
          ctx, cache, commit, file,
          onProgress: (fileBytes, got) => meter.emit(repo, 'download', file, fileBytes, done + fileBytes, p.totalBytes, resumed + planned.partBytes, before + got, false),
          onVerify: (hashed) => meter.emit(repo, 'verify', file, hashed, done + hashed, p.totalBytes, resumed + planned.partBytes, received, false),
        });
        received += r.receivedBytes;
        resumed += r.resumedBytes;
        source = r.resumedBytes > 0 ? 'resumed' : 'downloaded';
      }
      if (snapshotEntry(cache, commit, file.path, etag).kind === 'none') linkIntoSnapshot(cache, commit, file.path, etag);
      if (!planned.cached) done += file.size; // files cached at planning are in `done` from the start
      files.push({ path: file.path, size: file.size, etag, lfs: file.lfs !== undefined, source });
      meter.emit(repo, 'download', file, file.size, done, p.totalBytes, resumed, received, true);
    }
    writeRef(cache, p.revision, commit);
  } finally {
    release();
  }
  const last = p.files[p.files.length - 1].file;
  meter.emit(repo, 'done', last, last.size, done, p.totalBytes, resumed, received, true);
  return {
    repo, revision: p.revision, commit, path: snapshotDir(cache, commit), cacheDir: p.settings.cacheDir, files,
    totalBytes: p.totalBytes, bytes: received, resumedBytes: resumed, reusedBytes, seconds: (performance.now() - started) / 1000,
  };
}

/** Throttled progress with the network rate over a sliding window of the last 5 s. */
function progressMeter(options: PullOptions, started: number) {
  const interval = options.progressIntervalMs ?? 100;
  const samples: { t: number; bytes: number }[] = [{ t: started, bytes: 0 }];
  let last = -Infinity;
  return {
    emit(repo: string, phase: PullProgress['phase'], file: RepoFile, fileBytes: number, bytes: number, totalBytes: number, resumedBytes: number, received: number, force: boolean): void {
      const now = performance.now();
      if (options.onProgress === undefined || (!force && now - last < interval)) return;
      last = now;
      samples.push({ t: now, bytes: received });
      while (samples.length > 2 && now - samples[1].t > 5000) samples.shift();
      const first = samples[0];
      const seconds = (now - first.t) / 1000;
      const bytesPerSecond = seconds > 0.2 ? (received - first.bytes) / seconds : 0;
      const etaSeconds = phase === 'done' ? 0 : bytesPerSecond > 0 ? (totalBytes - bytes) / bytesPerSecond : null;
      options.onProgress({ repo, phase, file: file.path, fileBytes, fileSize: file.size, bytes, totalBytes, resumedBytes, bytesPerSecond, etaSeconds });
    },
  };
}

function gb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
