// Everything a pull can run into, as one typed error: `kind` says what happened (the extension maps it to an
// action, e.g. 'unauthorized' → ask for a token), the message is one line naming the repo (and the file) and saying
// what to do. HubError extends RequestError, so the CLI reports it as a user-caused error (one line, exit code 2).
import { RequestError } from '../model/errors';

export type HubErrorKind =
  | 'unauthorized'       // 401: no token, or a token the Hub does not accept
  | 'forbidden'          // 403: gated (conditions not accepted) or a token without access
  | 'repo-not-found'
  | 'revision-not-found'
  | 'file-not-found'
  | 'network'            // unreachable, refused, reset or stalled, after the retries
  | 'disk-full'          // not enough free space for what is left to fetch, or ENOSPC while writing
  | 'corrupt'            // the bytes do not match the Hub's size or hash (sha256 for LFS, git blob sha1 otherwise)
  | 'not-weights'        // an HTML/JSON page or a body without the safetensors header where a file was expected
  | 'bad-response'       // the Hub (or mirror) answered something this client cannot use
  | 'bad-input'          // a malformed repo id or revision
  | 'busy';              // another simsd pull is writing the same repo

export const TOKEN_HINT = 'set HF_TOKEN, or `simsd pull --token …`, or in VS Code: SimSD: Set Hugging Face Token';

export class HubError extends RequestError {
  constructor(
    readonly kind: HubErrorKind,
    readonly repo: string,
    message: string,
    readonly file?: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

/** What an HTTP error status means for `repo` (and `file`, on a resolve request). `where` is the URL asked. */
export function errorForStatus(status: number, errorCode: string | null, repo: string, revision: string, file?: string): HubError {
  const f = file === undefined ? '' : ` (${file})`;
  if (errorCode === 'RepositoryNotFound' || (status === 404 && errorCode === null && file === undefined)) {
    // The Hub answers 401 + RepositoryNotFound for a private repo asked without a token: say both.
    const hint = status === 401 ? `; if it is private or gated, ${TOKEN_HINT}` : '; check the spelling (ORG/NAME, e.g. JetLM/SDAR-1.7B-Chat)';
    return new HubError('repo-not-found', repo, `${repo}: no such model repository on the Hub${hint}`, file, status);
  }
  if (errorCode === 'RevisionNotFound') {
    return new HubError('revision-not-found', repo, `${repo}: no revision '${revision}' (a branch, tag or commit); leave out --revision for main`, file, status);
  }
  if (errorCode === 'EntryNotFound' || (status === 404 && file !== undefined)) {
    return new HubError('file-not-found', repo, `${repo}: the Hub has no file ${file ?? '(unknown)'} at ${revision}, though its listing names it; the repository (or the mirror) may have changed: run the pull again`, file, status);
  }
  if (status === 401 || (errorCode === 'GatedRepo' && status !== 403)) {
    return new HubError('unauthorized', repo, `${repo}${f}: the Hub refused the request (401): gated or missing token: ${TOKEN_HINT}`, file, status);
  }
  if (status === 403) {
    return new HubError('forbidden', repo, `${repo}${f}: access denied (403): the repository is gated or the token lacks access: accept its conditions on the Hub, then ${TOKEN_HINT}`, file, status);
  }
  if (status === 404) {
    return new HubError('repo-not-found', repo, `${repo}${f}: not found (404)`, file, status);
  }
  return new HubError('bad-response', repo, `${repo}${f}: the Hub answered HTTP ${status}; try again later`, file, status);
}

/** A malformed answer: what was wrong with it, and where. */
export function badResponse(repo: string, detail: string, file?: string): HubError {
  return new HubError('bad-response', repo, `${repo}${file === undefined ? '' : ` (${file})`}: unexpected answer from the Hub: ${detail}`, file);
}
