// Choosing the execution provider on the host side (docs/models.md §8), for the extension and the CLI: `cpu` is taken
// as asked; `webgpu` and `auto` run the probe in a throwaway child (`worker.js --probe-webgpu`, since a GPU driver
// failure can abort a process). `webgpu` needs it correct; `auto` also needs it faster on a target-shaped decode step.
// The timing's verdict is remembered per target shape and machine (a JSON file beside the converted models), so the
// editor measures once, not at every start. Nothing here imports onnxruntime.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ProviderChoice } from '../protocol/messages';

export type ProviderSetting = 'auto' | 'cpu' | 'webgpu';

export interface ProbeAnswer {
  readonly ok: boolean;
  readonly reason: string;
  readonly cpuMs?: number;
  readonly webgpuMs?: number;
}

export interface ProviderChoiceOptions {
  readonly workerScript: string;
  /** The target's folder (its config.json gives the shape to time); null: correctness only. */
  readonly targetDir: string | null;
  /** Where verdicts are remembered; null: measure every time. */
  readonly verdictFile: string | null;
  readonly log: (line: string) => void;
  readonly timeoutMs?: number;          // default 10 minutes (timing converts a target-shaped model once)
}

export async function chooseProvider(setting: ProviderSetting, o: ProviderChoiceOptions): Promise<ProviderChoice> {
  if (setting === 'cpu') return { executionProvider: 'cpu', reason: 'the CPU, as set' };
  const timed = setting === 'auto' && o.targetDir !== null;
  const key = timed ? verdictKey(o.targetDir as string) : null;
  const remembered = key !== null ? readVerdicts(o.verdictFile)[key] : undefined;
  const answer = remembered ?? await probeInChild(o.workerScript, timed ? o.targetDir : null, o.timeoutMs ?? 600_000);
  if (key !== null && remembered === undefined && (answer.cpuMs !== undefined || !answer.ok)) writeVerdict(o.verdictFile, key, answer, o.log);
  if (answer.ok) return { executionProvider: 'webgpu', reason: answer.reason };
  o.log(`WebGPU not used: ${answer.reason}`);
  return { executionProvider: 'cpu', reason: setting === 'webgpu' ? `WebGPU was asked for, but ${answer.reason}` : answer.reason };
}

/** Runs `worker.js --probe-webgpu [--time-shape DIR]` and reads its one JSON line. */
export function probeInChild(workerScript: string, shapeDir: string | null, timeoutMs: number): Promise<ProbeAnswer> {
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
        const answer = JSON.parse(last) as ProbeAnswer;
        if (typeof answer.ok !== 'boolean' || typeof answer.reason !== 'string') throw new Error('not a probe answer');
        resolve(answer);
      } catch {
        resolve({ ok: false, reason: `the WebGPU probe exited (${signal ?? code}) without an answer` });
      }
    });
  });
}

/** The target's shape (config.json) and this machine: a new GPU driver or CPU measures again. */
function verdictKey(targetDir: string): string | null {
  try {
    const config = fs.readFileSync(path.join(targetDir, 'config.json'));
    const machine = `${os.cpus()[0]?.model ?? '?'}|${os.cpus().length}|${process.platform}|${process.arch}`;
    return createHash('sha1').update(config).update(machine).digest('hex').slice(0, 16);
  } catch {
    return null;
  }
}

function readVerdicts(file: string | null): Record<string, ProbeAnswer> {
  if (file === null || !fs.existsSync(file)) return {};
  try {
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return typeof json === 'object' && json !== null && !Array.isArray(json) ? json as Record<string, ProbeAnswer> : {};
  } catch {
    return {}; // a damaged file is measured again and rewritten
  }
}

/** Written to a temporary file and renamed, so a crash never leaves half a file. */
function writeVerdict(file: string | null, key: string, answer: ProbeAnswer, log: (line: string) => void): void {
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
