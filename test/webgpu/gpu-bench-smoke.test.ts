// The GPU bench's smoke mode (testing.md §10): the script a GPU machine runs, run here on tiny shapes (CI: lavapipe).
// It proves the script end to end — conversion, device caches, the report file, the estimates — not the speed; and
// holds the estimate's arithmetic to hand-made numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { costAt, estimates, SMOKE_PLAN, type GpuBenchReport, type ModelCosts } from '../device/gpu-bench-lib';
import { requireWebGpu } from '../webgpu-helpers';

test('the estimate: forwards per token × the cost at the mean rows, interpolated between measured rows', () => {
  const model = (name: string, ms: readonly number[]): ModelCosts => ({
    model: name, weights: 'fp16', depths: [1, 2], fullLayers: 2, convertS: 0,
    forwards: [1, 4, 16].map((rows, i) => ({ rows, cache: 64, capacity: 256, msAtDepth: [0, 0], ms: ms[i], transferBytes: 0, hostCopyBytes: 0 })),
  });
  const target = model(SMOKE_PLAN.target.name, [10, 12, 24]);
  const draft = model(SMOKE_PLAN.draft.name, [2, 3, 6]);
  assert.equal(costAt(target, 64, 4), 12);
  assert.equal(costAt(target, 64, 10), 18);       // halfway between 4 and 16 rows
  assert.equal(costAt(target, 64, 100), 24);      // clamped at the largest measured window
  assert.equal(costAt(target, 64, 0.5), 10);
  const arms = {
    'native/static': { targetForwardsPerToken: 1, draftForwardsPerToken: 0, targetRowsPerForward: 4, draftRowsPerForward: null, acceptLength: null },
    'simsd-exact/static': { targetForwardsPerToken: 0.5, draftForwardsPerToken: 2, targetRowsPerForward: 10, draftRowsPerForward: 4, acceptLength: 2 },
  };
  const plan = { ...SMOKE_PLAN, formats: ['fp16'] as const, caches: [64] };
  const [native, exact] = estimates(plan, [target, draft], arms);
  assert.equal(native.msPerToken, 12);
  assert.equal(exact.msPerToken, 0.5 * 18 + 2 * 3);
  assert.equal(exact.speedupVsStatic, Math.round((12 / 15) * 1000) / 1000);
});

test('gpu-bench --smoke runs on this machine\'s WebGPU and writes a complete report', async () => {
  await requireWebGpu();
  const out = mkdtempSync(join(tmpdir(), 'simsd-gpu-bench-'));
  try {
    const r = spawnSync(process.execPath, [join(__dirname, '..', '..', 'device', 'gpu-bench.js'), '--smoke', '--out', out, '--work', out],
      { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    assert.deepEqual(readdirSync(out), ['gpu-bench.json'], 'the report and nothing else: work folders removed, no temporary file left');
    const report = JSON.parse(readFileSync(join(out, 'gpu-bench.json'), 'utf8')) as GpuBenchReport;
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1) ?? ''), report, 'the same report on stdout, last');
    assert.equal(report.mode, 'smoke');
    assert.deepEqual(report.skipped, []);
    assert.equal(report.models.length, SMOKE_PLAN.formats.length * 2);
    for (const m of report.models) {
      assert.equal(m.forwards.length, SMOKE_PLAN.rows.length * SMOKE_PLAN.caches.length, m.model);
      for (const f of m.forwards) {
        assert.ok(Number.isFinite(f.ms) && f.ms > 0 && f.msAtDepth.every((x) => x > 0), `${m.model} ${m.weights} ${f.rows}/${f.cache}: ${f.ms} ms`);
        assert.ok(f.transferBytes > 0 && f.transferBytes * 10 < f.hostCopyBytes, `${m.model}: ${f.transferBytes} B vs a host copy's ${f.hostCopyBytes} B`);
      }
      // With the cache on the device a forward's bytes grow only by the mask: one byte per slot and row.
      for (const rows of SMOKE_PLAN.rows) {
        const [a, b] = SMOKE_PLAN.caches.map((c) => m.forwards.find((f) => f.rows === rows && f.cache === c)!);
        assert.equal(b.transferBytes - a.transferBytes, rows * (b.capacity - a.capacity), `${m.model} ${m.weights} rows ${rows}`);
      }
    }
    const arms = Object.keys(JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'test', 'device', 'accept-stats.json'), 'utf8')).strategy);
    assert.equal(report.strategies.length, SMOKE_PLAN.formats.length * SMOKE_PLAN.caches.length * arms.length);
    for (const s of report.strategies) assert.ok(Number.isFinite(s.tokPerS) && s.tokPerS > 0, `${s.arm}: ${s.tokPerS}`);
    assert.ok(report.strategies.filter((s) => s.arm === 'native/static').every((s) => s.speedupVsStatic === 1));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
