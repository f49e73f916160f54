// Choosing the execution provider on the host side (docs/models.md §8), for the extension and the CLI: `cpu` is taken
// as asked; `webgpu` and `auto` run the probe in a throwaway child (`worker.js --probe-webgpu`, since a GPU driver
// failure can abort a process). `webgpu` needs it correct; `auto` also needs it faster on a target-shaped decode step.
// The timing's verdict is remembered per target shape, machine and onnxruntime version (a JSON file beside the converted
// models), so the editor times once, not at every start; correctness is checked at every start. Nothing here imports onnxruntime.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ProbeResult } from '../model/provider';
import type { Precision } from '../model/types';
import type { ProviderChoice } from '../protocol/messages';

export type ProviderSetting = 'auto' | 'cpu' | 'webgpu';

export interface ProviderChoiceOptions {
  readonly workerScript: string;
  /** The target's folder (its config.json gives the shape to time); null: correctness only. */
  readonly targetDir: string | null;
  /** Where verdicts are remembered; null: measure every time. */
  readonly verdictFile: string | null;
  readonly log: (line: string) => void;
  readonly timeoutMs?: number;          // default 10 minutes (timing converts a target-shaped model once)
}

/** WebGPU runs fp16 graphs with the KV cache on the device; the CPU runs fp32 (docs/models.md §7.5). */
export function precisionFor(provider: ProviderChoice): Precision {
  return provider.executionProvider === 'webgpu' ? 'fp16' : 'fp32';
}

export async function chooseProvider(setting: ProviderSetting, o: ProviderChoiceOptions): Promise<ProviderChoice> {
  if (setting === 'cpu') return { executionProvider: 'cpu', reason: 'the CPU, as set' };
  const timed = setting === 'auto' && o.targetDir !== null;
  const key = timed ? verdictKey(o.targetDir as string) : null;
  const remembered = key !== null ? readVerdicts(o.verdictFile)[key] : undefined;
  const timeoutMs = o.timeoutMs ?? 600_000;
  let answer: ProbeResult;
  if (remembered !== undefined) {
    // Only the timing is remembered: correctness is checked at every start (seconds), so a new driver that breaks
    // WebGPU is caught even where the timing was measured before.
    const check = await probeInChild(o.workerScript, null, timeoutMs);
    answer = check.ok ? remembered : check;
  } else {
    answer = await probeInChild(o.workerScript, timed ? o.targetDir : null, timeoutMs);
    // Failures (a crash, a timeout, no adapter) are never remembered: the next start tries again.
    if (key !== null && isTimed(answer)) writeVerdict(o.verdictFile, key, answer, o.log);
  }
  if (answer.ok) return { executionProvider: 'webgpu', reason: answer.reason };
  o.log(`WebGPU not used: ${answer.reason}`);
  return { executionProvider: 'cpu', reason: setting === 'webgpu' ? `WebGPU was asked for, but ${answer.reason}` : answer.reason };
}

/** A probe answer that carries both timings: the only kind worth remembering. */
function isTimed(a: unknown): a is ProbeResult {
  if (typeof a !== 'object' || a === null) return false;
  const r = a as Record<string, unknown>;
  return typeof r.ok === 'boolean' && typeof r.reason === 'string' && typeof r.cpuMs === 'number' && typeof r.webgpuMs === 'number';
}

/** Runs `worker.js --probe-webgpu [--time-shape DIR]` and reads its one JSON line. */
export function probeInChild(workerScript: string, shapeDir: string | null, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const args = ['--probe-webgpu', ...(shapeDir !== null ? ['--time-shape', shapeDir] : [])];
    const child = fork(workerScript, args, { stdio: ['ignore', 'pipe', 'ignore', 'ipc'] });
    let out = '';
    const timer = setTimeout(() => { child.kill(); resolve({ ok: false, reason: 'the WebGPU probe timed out' }); }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); resolve({ ok: false, reason: `the WebGPU probe could not run: ${err.message}` }); });
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      try {
        const answer = JSON.parse(last) as ProbeResult;
        if (typeof answer.ok !== 'boolean' || typeof answer.reason !== 'string') throw new Error('not a probe answer');
        resolve(answer);
      } catch {
        resolve({ ok: false, reason: `the WebGPU probe exited (${signal ?? code}) without an answer` });
      }
    });
  });
}

/** The target's shape (config.json), this machine and the runtime: a new CPU or onnxruntime build measures again. */
function verdictKey(targetDir: string): string | null {
  try {
    const config = fs.readFileSync(path.join(targetDir, 'config.json'));
    const machine = `${os.cpus()[0]?.model ?? '?'}|${os.cpus().length}|${process.platform}|${process.arch}|onnxruntime ${runtimeVersion()}`;
    return createHash('sha1').update(config).update(machine).digest('hex').slice(0, 16);
  } catch {
    return null;
  }
}

/** onnxruntime-node's version (its package.json; external to every bundle), or '?' where it cannot be read. */
function runtimeVersion(): string {
  try {
    return (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return '?';
  }
}

/** The remembered verdicts, each checked; a damaged file or entry is measured again and rewritten. */
function readVerdicts(file: string | null): Record<string, ProbeResult> {
  if (file === null || !fs.existsSync(file)) return {};
  try {
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return {};
    return Object.fromEntries(Object.entries(json).filter(([, v]) => isTimed(v))) as Record<string, ProbeResult>;
  } catch {
    return {};
  }
}

/** Written to a temporary file and renamed, so a crash never leaves half a file. */
function writeVerdict(file: string | null, key: string, answer: ProbeResult, log: (line: string) => void): void {
  if (file === null) return;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ ...readVerdicts(file), [key]: answer }, null, 2) + '\n');
    fs.renameSync(tmp, file);
  } catch (err) {
    log(`could not remember the WebGPU verdict in ${file}: ${(err as Error).message}`);
  }
}
