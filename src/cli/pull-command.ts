// `simsd pull REPO` and `simsd pull --pair PRESET`: checkpoints from the Hugging Face Hub into the standard Hub cache
// (src/hub/). Progress goes to stderr: a bar redrawn at most 10 times a second on a terminal, a plain line per file
// otherwise, or with --progress-json one `{"progress": {…}}` object per line (the extension runs this command as a
// child process, reads those lines and cancels by killing it; the partial files survive and the next run resumes).
// With --progress-json a failure is also one `{"error": {kind, message, repo, file}}` line before the usual error line.
import { RequestError } from '../model/errors';
import { HubError } from '../hub/errors';
import { isAbort } from '../hub/http';
import { findPairPreset, PAIR_PRESET_NAMES } from '../hub/presets';
import { planPull, pull, type PullOptions, type PullProgress, type PullResult } from '../hub/pull';
import { booleanFlag, stringFlag, UsageError, type ParsedArgs } from './args';
import type { Print } from './model-commands';

type Role = 'draft' | 'target';

export async function pullCommand(args: ParsedArgs, print: Print): Promise<object> {
  const name = args.positionals[0];
  const preset = findPairPreset(name);
  if (booleanFlag(args, 'pair') && preset === undefined) {
    throw new UsageError(`--pair needs a preset name, one of ${PAIR_PRESET_NAMES.join(', ')} (got '${name}')`);
  }
  const machine = booleanFlag(args, 'progress-json');
  const say: Print = machine ? () => {} : print;
  const controller = new AbortController();
  const onInterrupt = () => {
    if (controller.signal.aborted) process.exit(130); // a second Ctrl-C: stop now (the parts are safe anyway)
    controller.abort();
  };
  process.on('SIGINT', onInterrupt);
  const common = {
    revision: stringFlag(args, 'revision'), endpoint: stringFlag(args, 'endpoint'), cacheDir: stringFlag(args, 'cache-dir'),
    token: stringFlag(args, 'token'), signal: controller.signal,
  };
  try {
    if (preset === undefined) {
      say(`pulling ${name}${common.revision ? `@${common.revision}` : ''}`);
      const result = await pull({ ...common, repo: name, onProgress: reporter(machine, null) });
      report(result, say);
      say(`use it: simsd generate --target ${result.path} --prompt …`);
      return result;
    }
    say(`pulling the pair ${preset.name}: draft ${preset.draft}, target ${preset.target} (≈ ${formatBytes(preset.downloadBytes)} in all)`);
    const draftOptions: PullOptions = { ...common, repo: preset.draft, onProgress: reporter(machine, 'draft') };
    const targetOptions: PullOptions = { ...common, repo: preset.target, onProgress: reporter(machine, 'target') };
    const draftPlan = await planPull(draftOptions, draftOptions.onProgress);
    const targetPlan = await planPull(targetOptions, targetOptions.onProgress);
    // The draft goes first, but the free space is checked for both before any byte is fetched.
    const draft = await pull({ ...draftOptions, reserveBytes: targetPlan.bytesToFetch }, draftPlan);
    report(draft, say);
    const target = await pull(targetOptions, targetPlan);
    report(target, say);
    say(`use it: simsd generate --draft ${draft.path} --target ${target.path} --prompt …`);
    return { pair: preset.name, draft, target };
  } catch (err) {
    if (isAbort(err)) {
      throw new RequestError('pull cancelled; the partial download is kept: run the same command again to resume');
    }
    if (machine && err instanceof HubError) {
      process.stderr.write(`${JSON.stringify({ error: { kind: err.kind, message: err.message, repo: err.repo, file: err.file ?? null } })}\n`);
    }
    throw err;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function report(r: PullResult, say: Print): void {
  const parts = [`${formatBytes(r.bytes)} downloaded`];
  if (r.resumedBytes > 0) parts.push(`${formatBytes(r.resumedBytes)} resumed`);
  if (r.reusedBytes > 0) parts.push(`${formatBytes(r.reusedBytes)} already in the cache`);
  say(`pulled ${r.repo}@${r.revision} (${r.commit.slice(0, 12)}): ${r.files.length} files, ${formatBytes(r.totalBytes)} (${parts.join(', ')}) in ${r.seconds.toFixed(1)} s`);
  say(`  ${r.path}`);
}

/** The onProgress of one pull: JSON lines, a redrawn bar (terminal) or a line per finished file. */
function reporter(machine: boolean, role: Role | null): (p: PullProgress) => void {
  if (machine) return (p) => process.stderr.write(`${JSON.stringify({ progress: role === null ? p : { ...p, role } })}\n`);
  const tty = process.stderr.isTTY === true;
  const prefix = role === null ? '' : `${role}: `;
  let lastDraw = 0;
  let lastLine = Date.now();
  let finished = '';
  return (p) => {
    const now = Date.now();
    if (tty) {
      if (p.phase !== 'done' && now - lastDraw < 100) return;
      lastDraw = now;
      const width = Math.max(40, (process.stderr.columns ?? 100) - 1);
      process.stderr.write(`\r${barLine(prefix, p).slice(0, width)}\x1b[K${p.phase === 'done' ? '\n' : ''}`);
      return;
    }
    const fileDone = p.phase === 'download' && p.fileBytes === p.fileSize && finished !== p.file;
    if (fileDone) finished = p.file;
    if (fileDone || (p.phase !== 'done' && now - lastLine >= 10_000)) {
      lastLine = now;
      process.stderr.write(`${barLine(prefix, p)}\n`);
    }
  };
}

function barLine(prefix: string, p: PullProgress): string {
  const share = p.totalBytes > 0 ? Math.min(1, Math.max(0, p.bytes / p.totalBytes)) : 1;
  const cells = 20;
  const full = Math.round(share * cells);
  const bar = `${'█'.repeat(full)}${'░'.repeat(cells - full)}`;
  const what = p.phase === 'verify' ? `verifying ${p.file}` : p.phase === 'done' ? 'done' : p.file;
  const rate = p.bytesPerSecond > 0 ? `  ${formatBytes(p.bytesPerSecond)}/s` : '';
  const eta = p.phase !== 'done' && p.etaSeconds !== null ? `  ETA ${formatSeconds(p.etaSeconds)}` : '';
  return `${prefix}${String(Math.floor(share * 100)).padStart(3)}% ${bar} ${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)}${rate}${eta}  ${what}`;
}

function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${Math.round(n)} B`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}
