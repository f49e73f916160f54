// `simsd convert` in a child process, as the extension runs it: memory stays bounded by the streamed piece, not by
// the tensors (models.md §5.2), and --progress-json gives one machine-readable line per tensor on stderr.
// Needs `node esbuild.mjs` first (dist/cli.js).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expectedTensors } from '../../src/model/checkpoint';
import type { ConvertProgress } from '../../src/model/convert';
import { tempDir } from '../fixtures/corrupt';
import { makeCheckpoint, TINY } from '../fixtures/tiny-checkpoint';

const CLI = resolve('dist/cli.js');
const MiB = 2 ** 20;
let work: ReturnType<typeof tempDir>;
let hook = '';

before(() => {
  assert.ok(existsSync(CLI), 'dist/cli.js is missing: build with `node esbuild.mjs` first');
  work = tempDir('simsd-convert-memory');
  // The child's own peak: VmHWM belongs to the process's address space, which exec replaces. (getrusage's maxRSS,
  // what the CLI reports, keeps the parent's RSS across fork + exec: it would report this test process's size.)
  hook = join(work.path, 'vmhwm.js');
  writeFileSync(hook, "process.on('exit', () => { const m = /VmHWM:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'));"
    + " if (m) process.stderr.write(JSON.stringify({ vmHwmBytes: Number(m[1]) * 1024 }) + '\\n'); });\n");
});
after(() => work.remove());

interface Converted { readonly peakBytes: number | null; readonly dataBytes: number; readonly progress: ConvertProgress[] }

function convert(dir: string, out: string): Converted {
  const r = spawnSync(process.execPath, ['--require', hook, CLI, 'convert', dir, '--out', out, '--weights', 'int4', '--json', '--progress-json'],
    { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const { dataBytes } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { dataBytes: number };
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { progress?: ConvertProgress; vmHwmBytes?: number });
  const progress = lines.flatMap((l) => (l.progress ? [l.progress] : []));
  return { dataBytes, progress, peakBytes: lines.find((l) => l.vmHwmBytes !== undefined)?.vmHwmBytes ?? null };
}

test('--progress-json: one {"progress": …} line per checkpoint tensor on stderr; stdout ends with the result', () => {
  const dir = join(work.path, 'tiny');
  const config = makeCheckpoint(dir, { ...TINY });
  const { progress, dataBytes } = convert(dir, join(work.path, 'tiny-out'));
  const names = expectedTensors(config).map((t) => t.name);
  assert.deepEqual(progress.map((p) => p.done), names.map((_, i) => i + 1));
  assert.deepEqual(new Set(progress.map((p) => p.tensor)), new Set(names));
  for (const p of progress) {
    assert.deepEqual(Object.keys(p).sort(), ['bytesWritten', 'done', 'tensor', 'total']);
    assert.equal(p.total, names.length);
  }
  assert.ok(progress.at(-1)!.bytesWritten <= dataBytes);
});

test('peak memory does not grow with the tensors: 256 MiB (fp32) embedding and lm_head convert within 128 MiB of a tiny model', (t) => {
  if (!existsSync('/proc/self/status')) return t.skip('needs /proc/self/status (Linux)');
  // TINY with a 1 Mi-token vocabulary: the embedding and lm_head are 64 Mi values each, 128 MiB of bf16 on disk and
  // 256 MiB as fp32. Reading either whole (let alone widening, transposing or rounding a copy) would exceed the bound;
  // streamed in pieces of 4 Mi values the conversion needs a few tens of MiB above the tiny one.
  const tinyDir = join(work.path, 'tiny-baseline');
  makeCheckpoint(tinyDir, { ...TINY });
  const baseline = convert(tinyDir, join(work.path, 'baseline-out'));
  const bigDir = join(work.path, 'big');
  makeCheckpoint(bigDir, { ...TINY, vocabSize: 1 << 20 });
  const big = convert(bigDir, join(work.path, 'big-out'));
  assert.ok(big.dataBytes > 160 * MiB, `model.data holds ${big.dataBytes} bytes`);
  assert.ok(big.peakBytes !== null && baseline.peakBytes !== null, 'no VmHWM line on stderr');
  const extra = big.peakBytes - baseline.peakBytes;
  t.diagnostic(`peak RSS: tiny ${(baseline.peakBytes / MiB).toFixed(0)} MiB, 2 × 256 MiB tensors ${(big.peakBytes / MiB).toFixed(0)} MiB`);
  assert.ok(extra < 128 * MiB, `peak RSS ${(big.peakBytes / MiB).toFixed(0)} MiB is ${(extra / MiB).toFixed(0)} MiB above the tiny model's ${(baseline.peakBytes / MiB).toFixed(0)} MiB`);
});
