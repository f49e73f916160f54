// The Hub cache layout, exactly as Python `huggingface_hub` and `@huggingface/hub` write it:
//   {cacheDir}/models--{org}--{name}/blobs/{etag}               the bytes (etag: sha256 for LFS files, git sha1 else)
//   {cacheDir}/models--{org}--{name}/blobs/{etag}.incomplete    a download in progress (resumed from its size)
//   {cacheDir}/models--{org}--{name}/snapshots/{commit}/{path}  a relative symlink to ../../blobs/{etag}
//                                                               (a copy where links fail, e.g. Windows without
//                                                               developer mode)
//   {cacheDir}/models--{org}--{name}/refs/{revision}            the commit, no newline
//   {cacheDir}/.locks/models--{org}--{name}/                    the Python client's lock files; ours is simsd-pull.lock
// Every file is written under a temporary name and renamed into place; nothing found here is replaced or deleted
// except what this code made (`.incomplete` parts, temporary names, its own lock).
import * as fs from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { HubError } from './errors';

export interface RepoCache {
  readonly repo: string;
  readonly root: string;              // {cacheDir}/models--{org}--{name}
  readonly blobs: string;
  readonly lockFile: string;
}

export function repoFolderName(repo: string): string {
  return `models--${repo.split('/').join('--')}`;
}

export function repoCache(cacheDir: string, repo: string): RepoCache {
  const root = join(cacheDir, repoFolderName(repo));
  return { repo, root, blobs: join(root, 'blobs'), lockFile: join(cacheDir, '.locks', repoFolderName(repo), 'simsd-pull.lock') };
}

export const blobPath = (rc: RepoCache, etag: string): string => join(rc.blobs, etag);
export const partPath = (rc: RepoCache, etag: string): string => join(rc.blobs, `${etag}.incomplete`);
export const snapshotDir = (rc: RepoCache, commit: string): string => join(rc.root, 'snapshots', commit);
export const snapshotPath = (rc: RepoCache, commit: string, path: string): string => join(snapshotDir(rc, commit), ...path.split('/'));

/** The link text a snapshot entry holds: the blob relative to the entry's folder (`../../blobs/{etag}` at top level). */
export function linkTarget(rc: RepoCache, commit: string, path: string, etag: string): string {
  return relative(dirname(snapshotPath(rc, commit, path)), blobPath(rc, etag));
}

/** What stands at a snapshot entry: nothing, our own link to the blob (maybe dangling), or some other file. */
export type SnapshotEntry = { readonly kind: 'none' } | { readonly kind: 'our-link' } | { readonly kind: 'other'; readonly size: number | null };

export function snapshotEntry(rc: RepoCache, commit: string, path: string, etag: string): SnapshotEntry {
  const at = snapshotPath(rc, commit, path);
  const l = lstatOrNull(at);
  if (l === null) return { kind: 'none' };
  if (l.isSymbolicLink() && fs.readlinkSync(at) === linkTarget(rc, commit, path, etag)) return { kind: 'our-link' };
  const s = statOrNull(at);
  return { kind: 'other', size: s?.isFile() ? s.size : null };
}

/** Puts the blob into the snapshot: a relative symlink made under a temporary name and renamed, else a copy. */
export function linkIntoSnapshot(rc: RepoCache, commit: string, path: string, etag: string): 'link' | 'copy' {
  const at = snapshotPath(rc, commit, path);
  fs.mkdirSync(dirname(at), { recursive: true });
  const temp = `${at}.simsd-${process.pid}.tmp`;
  fs.rmSync(temp, { force: true });
  try {
    fs.symlinkSync(linkTarget(rc, commit, path, etag), temp);
    fs.renameSync(temp, at);
    return 'link';
  } catch (err) {
    fs.rmSync(temp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EINVAL') throw err;
  }
  fs.copyFileSync(blobPath(rc, etag), temp);
  fs.renameSync(temp, at);
  return 'copy';
}

/** `refs/{revision}` ← commit (skipped when the revision is the commit itself, as the Python client does). */
export function writeRef(rc: RepoCache, revision: string, commit: string): void {
  if (revision === commit) return;
  const ref = join(rc.root, 'refs', ...revision.split('/'));
  if (readOrNull(ref) === commit) return;
  fs.mkdirSync(dirname(ref), { recursive: true });
  const temp = `${ref}.simsd-${process.pid}.tmp`;
  fs.writeFileSync(temp, commit);
  fs.renameSync(temp, ref);
}

/**
 * Takes the repo's pull lock: a file holding our pid, made with O_EXCL. A lock whose process is gone (a killed
 * pull) is taken over. Returns the release function.
 */
export function acquireLock(rc: RepoCache): () => void {
  fs.mkdirSync(dirname(rc.lockFile), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(rc.lockFile, String(process.pid), { flag: 'wx' });
      return () => {
        if (readOrNull(rc.lockFile) === String(process.pid)) fs.rmSync(rc.lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(readOrNull(rc.lockFile));
    if (Number.isSafeInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new HubError('busy', rc.repo, `${rc.repo}: another simsd pull (pid ${holder}) is downloading into ${rc.root}; wait for it to finish or stop it, then run the pull again`);
    }
    fs.rmSync(rc.lockFile, { force: true }); // our own lock file, left by a pull that was killed
  }
  throw new HubError('busy', rc.repo, `${rc.repo}: cannot take the lock ${rc.lockFile}; another pull keeps taking it`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Free bytes for an unprivileged writer on the disk that holds `path` (or its nearest existing parent). */
export function freeBytes(path: string): { readonly free: number; readonly on: string } {
  let at = path;
  while (statOrNull(at) === null && dirname(at) !== at) at = dirname(at);
  const s = fs.statfsSync(at);
  return { free: s.bavail * s.bsize, on: at };
}

export function lstatOrNull(p: string): fs.Stats | null {
  try { return fs.lstatSync(p); } catch { return null; }
}

export function statOrNull(p: string): fs.Stats | null {
  try { return fs.statSync(p); } catch { return null; }
}

function readOrNull(p: string): string | null {
  try { return fs.readFileSync(p, 'utf8').trim(); } catch { return null; }
}
