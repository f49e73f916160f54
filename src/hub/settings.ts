// Where a pull reads from and writes to, resolved as the Python `huggingface_hub` and `@huggingface/hub` clients do,
// so a model pulled here is found by them and the other way round:
//   cache dir  --cache-dir > HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE (legacy) > HF_HOME/hub > XDG_CACHE_HOME/huggingface/hub
//              > ~/.cache/huggingface/hub
//   endpoint   --endpoint > HF_ENDPOINT > https://huggingface.co
//   token      --token > HF_TOKEN > HUGGING_FACE_HUB_TOKEN (legacy) > the file `huggingface-cli login` writes
//              (HF_TOKEN_PATH, else HF_HOME/token)
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { HubError } from './errors';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubSettingsInput {
  readonly endpoint?: string;
  readonly cacheDir?: string;
  readonly token?: string;
}

export interface HubSettings {
  readonly endpoint: string;          // no trailing slash
  readonly cacheDir: string;          // absolute
  readonly token?: string;
  readonly tokenSource: 'option' | 'HF_TOKEN' | 'HUGGING_FACE_HUB_TOKEN' | 'token-file' | 'none';
}

export function resolveHubSettings(given: HubSettingsInput, env: NodeJS.ProcessEnv, home = homedir()): HubSettings {
  const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  const hfHome = nonEmpty(env.HF_HOME) ?? join(nonEmpty(env.XDG_CACHE_HOME) ?? join(home, '.cache'), 'huggingface');
  const cacheDir = resolve(nonEmpty(given.cacheDir) ?? nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE) ?? join(hfHome, 'hub'));
  const endpoint = checkEndpoint(nonEmpty(given.endpoint) ?? nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT);
  const fromOption = nonEmpty(given.token);
  if (fromOption) return { endpoint, cacheDir, token: fromOption, tokenSource: 'option' };
  const fromEnv = nonEmpty(env.HF_TOKEN);
  if (fromEnv) return { endpoint, cacheDir, token: fromEnv, tokenSource: 'HF_TOKEN' };
  const legacy = nonEmpty(env.HUGGING_FACE_HUB_TOKEN);
  if (legacy) return { endpoint, cacheDir, token: legacy, tokenSource: 'HUGGING_FACE_HUB_TOKEN' };
  const fromFile = readTokenFile(nonEmpty(env.HF_TOKEN_PATH) ?? join(hfHome, 'token'));
  return fromFile ? { endpoint, cacheDir, token: fromFile, tokenSource: 'token-file' } : { endpoint, cacheDir, tokenSource: 'none' };
}

function readTokenFile(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text !== '' && text.length < 4096 && !/\s/.test(text) ? text : undefined;
  } catch {
    return undefined; // no login file: no token
  }
}

function checkEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HubError('bad-input', raw, `the Hub endpoint '${raw}' is not a URL; give e.g. https://huggingface.co (--endpoint or HF_ENDPOINT)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HubError('bad-input', raw, `the Hub endpoint '${raw}' is not http(s); give e.g. https://huggingface.co (--endpoint or HF_ENDPOINT)`);
  }
  return url.toString().replace(/\/+$/, '');
}

/**
 * `ORG/NAME` (or a bare `NAME`) as the Hub allows it: letters, digits, `-`, `_`, `.`; no `--` or `..`; at most 96
 * characters per part. Returns the problem, or null.
 */
export function repoIdProblem(repo: string): string | null {
  const parts = repo.split('/');
  if (parts.length > 2) return `'${repo}' has more than one '/': write ORG/NAME, e.g. JetLM/SDAR-1.7B-Chat`;
  for (const p of parts) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(p) || /[-.]$/.test(p) || p.length > 96) {
      return `'${repo}' is not a Hub repository id: write ORG/NAME with letters, digits, '-', '_' and '.', e.g. JetLM/SDAR-1.7B-Chat`;
    }
    if (p.includes('--') || p.includes('..')) return `'${repo}' contains '--' or '..', which Hub repository ids cannot`;
  }
  return null;
}

/** A branch, tag or commit: becomes `refs/{revision}` in the cache, so no `..`, empty part or leading `/`. */
export function revisionProblem(revision: string): string | null {
  const ok = revision.length > 0 && revision.length <= 256 && /^[A-Za-z0-9._\-/]+$/.test(revision)
    && revision.split('/').every((p) => p !== '' && p !== '.' && p !== '..');
  return ok ? null : `'${revision}' is not a usable revision: a branch, tag or commit such as main, v1.0 or refs/pr/1`;
}
