// Where a conversion may write: the rule that keeps `simsd convert --out` (and the engine's converted cache) from
// deleting or overwriting anything the project did not create.
//
// OUT may be replaced only when it does not exist, is an empty folder, or holds a previous conversion and nothing
// else: a folder with our marker file (or, for conversions made before the marker, a model.json whose format is
// 'simsd-onnx') whose every entry is a plain file with a name a conversion writes. Everything else is refused with
// a CheckpointError ('unsafe-output') naming OUT: a file, a symbolic link, a folder holding anything else, and any
// OUT that is, is inside, or contains the checkpoint folder being converted (compared as real paths).
//
// The new folder is written beside OUT as `OUT.partial-<pid>-<time>-<random>` and renamed into place; a previous
// conversion is moved aside to `OUT.old-<pid>-<time>` first and deleted only after the new one is in place.
// Deleting is always by name: only files a conversion writes are unlinked, and then the folder is removed with a
// plain rmdir, which fails rather than delete anything that appeared meanwhile.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError } from './errors';

/** Written into every converted folder: the claim that a later conversion may replace the folder as a whole. */
export const CONVERTED_MARKER = '.simsd-converted';
const MARKER_TEXT = 'This folder was written by `simsd convert`. Converting to the same path again replaces the whole\n'
  + 'folder, so keep nothing else in it: a conversion refuses to replace a folder holding files it did not write.\n';

/** What a converted folder holds, as named by the converter. */
export interface OutputLayout {
  readonly fileNames: ReadonlySet<string>;   // every file a conversion may write, the marker included
  readonly record: string;                 // model.json
  readonly format: string;                   // the record's `format` of our conversions: 'simsd-onnx'
}

/** What OUT holds now, when a conversion may replace it. */
export type OutputState = 'absent' | 'empty' | 'previous';

/**
 * Checks OUT before anything is written, removes the debris of crashed conversions to it, and creates the partial
 * folder to write into. `input` is the checkpoint folder being converted, when there is one.
 */
export function prepareOutput(target: string, input: string | undefined, layout: OutputLayout, started: number): string {
  checkOutput(target, input, layout);
  makeFolders(path.dirname(target));
  removeStaleSiblings(target, layout);
  // mkdtemp adds six random characters, so the folder is new and never one that something else already holds.
  return fs.mkdtempSync(`${target}.partial-${process.pid}-${started}-`);
}

/** Writes the marker into the finished partial folder, checks OUT again and renames the folder into place. */
export function commitOutput(tmp: string, target: string, input: string | undefined, layout: OutputLayout): void {
  fs.writeFileSync(path.join(tmp, CONVERTED_MARKER), MARKER_TEXT);
  // Checked again: a conversion takes seconds to minutes, and OUT may have changed meanwhile.
  const state = checkOutput(target, input, layout);
  if (state === 'absent') {
    fs.renameSync(tmp, target); // fails, never replaces, if a non-empty folder or a file appeared at OUT
    return;
  }
  const old = `${target}.old-${process.pid}-${Date.now()}`;
  fs.renameSync(target, old);
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.renameSync(old, target);
    throw err;
  }
  const foreign = removeConversionFolder(old, layout);
  if (foreign.length > 0) {
    throw new CheckpointError(target, 'unsafe-output', `converted, but while converting, ${foreign.join(', ')} appeared in the previous `
      + `conversion, now moved aside to ${old}; it was kept there: move what you need out of it and delete that folder`);
  }
}

/** Removes a partial folder of this process after a failure; a folder holding anything else is left as it is. */
export function discardPartial(tmp: string, layout: OutputLayout): void {
  removeConversionFolder(tmp, layout);
}

/** Throws unless a conversion may replace `target`; says what it holds when it may. */
export function checkOutput(target: string, input: string | undefined, layout: OutputLayout): OutputState {
  const refuse = (why: string): never => { throw new CheckpointError(target, 'unsafe-output', why); };
  const st = lstatOrNull(target);
  if (st?.isSymbolicLink()) {
    refuse(`is a symbolic link (to ${fs.readlinkSync(target)}); a conversion never replaces a link or writes through one: `
      + 'choose an output folder that does not exist yet');
  }
  if (input !== undefined) checkApartFromInput(target, fs.realpathSync.native(input), refuse);
  if (st === null) {
    checkParentIsFolder(target, refuse);
    return 'absent';
  }
  if (!st.isDirectory()) {
    refuse('is a file, not a folder; a conversion writes a folder and never replaces a file: choose an output folder that does not exist yet');
  }
  const entries = fs.readdirSync(target);
  if (entries.length === 0) return 'empty';
  const foreign = foreignEntries(target, entries, layout);
  if (!isClaimed(target, layout)) {
    refuse(`is a folder that simsd convert did not write (it holds ${listSome(entries)}); it is never replaced: `
      + 'choose an output folder that does not exist yet or is empty');
  }
  if (foreign.length > 0) {
    refuse(`holds a previous conversion, but also ${listSome(foreign)}, which simsd convert did not write; `
      + 'move that out of the folder (or choose another output folder) and convert again');
  }
  return 'previous';
}

/** OUT must not be the input, inside it, or contain it (real paths, so `.`, `..` and links are seen through). */
function checkApartFromInput(target: string, realInput: string, refuse: (why: string) => never): void {
  const realTarget = realPathOfMaybeMissing(target);
  const instead = `choose an output folder outside it, e.g. ${realInput}-onnx`;
  if (isWithin(realInput, realTarget)) {
    refuse(path.relative(realInput, realTarget) === ''
      ? `is the checkpoint folder being converted; ${instead}`
      : `is inside the checkpoint folder being converted (${realInput}); ${instead}`);
  }
  if (isWithin(realTarget, realInput)) {
    refuse(`contains the checkpoint folder being converted (${realInput}), which replacing it would delete; ${instead}`);
  }
}

function checkParentIsFolder(target: string, refuse: (why: string) => never): void {
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    const st = statOrNull(dir);
    if (st !== null) {
      if (!st.isDirectory()) refuse(`cannot be created: ${dir} is a file, not a folder`);
      return;
    }
    if (path.dirname(dir) === dir) return;
  }
}

/** Files of crashed conversions to `target` (`OUT.partial-*`, `OUT.old-*`) whose process is gone, if they hold only our files. */
function removeStaleSiblings(target: string, layout: OutputLayout): void {
  const parent = path.dirname(target);
  const base = path.basename(target);
  for (const name of fs.readdirSync(parent)) {
    const pid = debrisPid(base, name);
    if (pid === null || isAlive(pid)) continue;
    const dir = path.join(parent, name);
    if (!lstatOrNull(dir)?.isDirectory()) continue;
    // A dead conversion's folder holding anything else is left alone: someone put it there.
    removeConversionFolder(dir, layout);
  }
}

/** The pid in `<base>.partial-<pid>-<time>[-<random>]` or `<base>.old-<pid>-<time>`, else null. */
function debrisPid(base: string, name: string): number | null {
  for (const kind of ['.partial-', '.old-']) {
    if (!name.startsWith(base + kind)) continue;
    const m = /^(\d+)-\d+(?:-[A-Za-z0-9]{6})?$/.exec(name.slice(base.length + kind.length));
    if (m) return Number(m[1]);
  }
  return null;
}

/** Whether a process with this pid runs on this machine. Only "no such process" counts as gone. */
function isAlive(pid: number): boolean {
  if (pid === process.pid || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive, owned by another user
  }
}

/**
 * Deletes a folder that holds only files a conversion writes, by name, then the folder itself. Returns the
 * entries that are not ours, and deletes nothing, when there are any.
 */
function removeConversionFolder(dir: string, layout: OutputLayout): string[] {
  const entries = fs.readdirSync(dir);
  const foreign = foreignEntries(dir, entries, layout);
  if (foreign.length > 0) return foreign;
  for (const name of entries) fs.unlinkSync(path.join(dir, name));
  try {
    fs.rmdirSync(dir); // not recursive: if something appeared since the listing, it stays
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return fs.readdirSync(dir);
  }
  return [];
}

/** Entries that are not a plain file with a name a conversion writes. */
function foreignEntries(dir: string, entries: readonly string[], layout: OutputLayout): string[] {
  return entries.filter((name) => !layout.fileNames.has(name) || !fs.lstatSync(path.join(dir, name)).isFile());
}

/** Our marker, or (conversions from before the marker) a record in our format. */
function isClaimed(dir: string, layout: OutputLayout): boolean {
  if (lstatOrNull(path.join(dir, CONVERTED_MARKER))?.isFile()) return true;
  const record = path.join(dir, layout.record);
  if (!lstatOrNull(record)?.isFile()) return false;
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(record, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) return false; // not our record, so not our folder
    throw err;
  }
  return typeof json === 'object' && json !== null && (json as { format?: unknown }).format === layout.format;
}

/** Real path of `p`, which may not exist yet: the real path of its nearest existing ancestor plus the rest. */
function realPathOfMaybeMissing(p: string): string {
  const rest: string[] = [];
  for (let cur = p; ; cur = path.dirname(cur)) {
    if (statOrNull(cur) !== null) return path.join(fs.realpathSync.native(cur), ...rest.reverse());
    if (path.dirname(cur) === cur) return p;
    rest.push(path.basename(cur));
  }
}

/** Whether `inner` is `outer` or lies inside it. */
function isWithin(outer: string, inner: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (rel.split(path.sep)[0] !== '..' && !path.isAbsolute(rel));
}

function listSome(names: readonly string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}

/** lstat; null when nothing is there (or a path component is a file). */
function lstatOrNull(p: string): fs.Stats | null {
  return statOrNull(p, fs.lstatSync);
}

/** stat that follows links; null when nothing is there (or a path component is a file). */
function statOrNull(p: string, stat: (p: string) => fs.Stats = fs.statSync): fs.Stats | null {
  try {
    return stat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * mkdir -p, one level at a time. Node's recursive mkdirSync loops for ever where a parent exists but refuses the
 * child with ENOENT (procfs, `--out /proc/x`); here that is one error naming the folder.
 */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); statOrNull(d) === null; d = path.dirname(d)) {
    if (path.dirname(d) === d) break;
    missing.unshift(d);
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statOrNull(d)?.isDirectory()) continue;
      throw new CheckpointError(d, 'unsafe-output', `cannot create this folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
}
