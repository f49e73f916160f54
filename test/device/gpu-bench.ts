// The GPU bench from the command line (testing.md §10). Built by `node esbuild.mjs --tests` to out/device/gpu-bench.js.
//   node out/device/gpu-bench.js [--smoke] [--out DIR] [--work DIR] [--accept-stats FILE]
// Writes DIR/gpu-bench.json (default: $OUT, else the current folder) after every model, atomically, so a run stopped by
// its time limit still leaves what it measured; prints one line per measurement on stderr and the report last on stdout.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeWebGpu } from '../../src/model/provider';
import { FULL_PLAN, runGpuBench, SMOKE_PLAN, type AcceptArm, type GpuBenchReport } from './gpu-bench-lib';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function gpuName(): string {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return 'unknown (no nvidia-smi)';
  }
}

function writeAtomically(file: string, report: GpuBenchReport): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(report, null, 1) + '\n');
  fs.renameSync(tmp, file);
}

async function main(): Promise<void> {
  const plan = process.argv.includes('--smoke') ? SMOKE_PLAN : FULL_PLAN;
  const outDir = flag('out', process.env.OUT ?? '.');
  const statsFile = flag('accept-stats', path.join(__dirname, '..', '..', 'test', 'device', 'accept-stats.json'));
  const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8')) as { strategy: Record<string, AcceptArm> };
  const workDir = fs.mkdtempSync(path.join(flag('work', os.tmpdir()), 'simsd-gpu-bench-'));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const why = await probeWebGpu();
  if (why !== null) throw new Error(`WebGPU is not usable here: ${why}`);
  const file = path.join(outDir, 'gpu-bench.json');
  try {
    const report = await runGpuBench(plan, {
      workDir, gpu: gpuName(), log, acceptStats: { file: path.basename(statsFile), strategy: stats.strategy },
      onProgress: (r) => writeAtomically(file, r),
    });
    writeAtomically(file, report);
    for (const s of report.strategies) log(`${s.weights} cache ${s.cache} ${s.arm}: ${s.tokPerS} tok/s (×${s.speedupVsStatic} vs native/static)`);
    process.stdout.write(JSON.stringify(report) + '\n');
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`gpu-bench: ${err.message}\n`);
  process.exit(1);
});
