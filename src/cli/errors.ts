// How the CLI reports an error: a user-caused one (a bad flag, checkpoint, request or file) is one line and exit
// code 2; anything else is an internal error, one line and exit code 1. The stack trace only with --verbose.
import { CheckpointError, RequestError } from '../model/errors';
import { UsageError } from './args';

/** File-system error codes a user's path can cause, and how the error line says them. */
const FS_PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or folder',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EEXIST: 'already exists',
  ENOTEMPTY: 'the folder is not empty',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
  EBUSY: 'the file is busy',
  EMFILE: 'too many open files',
};

/** What the failed call was doing, by Node's `syscall` field; the rest are reads (open, stat, scandir, …). */
const WRITE_CALLS = new Set(['write', 'mkdir', 'mkdtemp', 'rename', 'unlink', 'rmdir', 'rm', 'copyfile', 'symlink', 'link', 'chmod', 'utime', 'ftruncate', 'fsync']);

interface FsError extends Error {
  readonly code: string;
  readonly syscall?: string;
  readonly path?: string;
}

export function isFsError(err: unknown): err is FsError {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && Object.hasOwn(FS_PROBLEMS, code);
}

/** `cannot read FILE: no such file or folder`; `file` when the error does not carry its path (EISDIR on read). */
export function describeFsError(err: FsError, file?: string): string {
  const target = err.path ?? file;
  const verb = err.syscall === 'open' && file === undefined ? 'open' : WRITE_CALLS.has(err.syscall ?? '') ? 'write' : 'read';
  return `cannot ${verb}${target === undefined ? '' : ` ${target}`}: ${FS_PROBLEMS[err.code]}`;
}

export function isUserError(err: unknown): boolean {
  return err instanceof UsageError || err instanceof CheckpointError || err instanceof RequestError || isFsError(err);
}

/** The lines to print on stderr (each without its newline) and the exit code. */
export function reportError(err: unknown, verbose: boolean): { readonly lines: readonly string[]; readonly exitCode: 1 | 2 } {
  const user = isUserError(err);
  const message = isFsError(err) ? describeFsError(err) : err instanceof Error ? err.message : String(err);
  const line = `simsd: ${user ? '' : 'internal error: '}${oneLine(message)}`;
  const stack = verbose && err instanceof Error && err.stack ? err.stack.split('\n') : [];
  return { lines: [line, ...stack], exitCode: user ? 2 : 1 };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim() || '(no message)';
}
