// Names of things the Hub cache holds, read from their paths. Pure: no file access. The cache layout is
// `{cache}/models--{org}--{name}/snapshots/{commit}/…` (src/hub/cache.ts writes it, as the Python and JS clients do).

/** `{ repo: 'org/name', commit }` when `dir` is a snapshot folder of the Hub cache, else null. */
export function snapshotRepo(dir: string): { readonly repo: string; readonly commit: string } | null {
  const m = /(?:^|[\\/])models--([^\\/]+?)--([^\\/]+)[\\/]snapshots[\\/]([0-9a-f]{7,64})[\\/]?$/.exec(dir);
  return m === null ? null : { repo: `${m[1]}/${m[2]}`, commit: m[3] };
}

/** A short name for a model folder: `org/name` for a Hub snapshot, else the folder's own name. */
export function modelName(dir: string): string {
  const hub = snapshotRepo(dir);
  if (hub !== null) return hub.repo;
  const parts = dir.split(/[\\/]/).filter((p) => p !== '');
  return parts[parts.length - 1] ?? dir;
}
