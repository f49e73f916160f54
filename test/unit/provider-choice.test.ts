// chooseProvider (docs/models.md §8) with a stand-in probe child: what is remembered (timed verdicts only), what is
// checked at every start (correctness), and that a damaged or failed verdict is measured again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseProvider } from '../../src/engine/provider-choice';
import type { ProbeResult } from '../../src/model/provider';

/** A probe child that logs its arguments and answers from a JSON file: {correct, timed} (null: exit without answer). */
function fakeProbe(dir: string): { script: string; answer: (a: { correct: ProbeResult | null; timed: ProbeResult | null }) => void; calls: () => string[][] } {
  const script = join(dir, 'probe.js');
  const answers = join(dir, 'answers.json');
  const log = join(dir, 'calls.log');
  writeFileSync(script, `
const fs = require('node:fs');
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');
const a = JSON.parse(fs.readFileSync(${JSON.stringify(answers)}, 'utf8'));
const answer = process.argv.includes('--time-shape') ? a.timed : a.correct;
if (answer !== null) process.stdout.write(JSON.stringify(answer) + '\\n');
process.exit(0);
`);
  return {
    script,
    answer: (a) => writeFileSync(answers, JSON.stringify(a)),
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : []),
  };
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'simsd-provider-'));
  writeFileSync(join(dir, 'config.json'), '{}');
  const probe = fakeProbe(dir);
  const verdictFile = join(dir, 'cache', 'webgpu-verdicts.json');
  const logs: string[] = [];
  const options = { workerScript: probe.script, targetDir: dir, verdictFile, log: (l: string) => logs.push(l), timeoutMs: 30_000 };
  return { dir, probe, verdictFile, options, logs, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const CORRECT: ProbeResult = { ok: true, reason: 'WebGPU adapter found; the fp16 self-test matched the CPU' };
const FASTER: ProbeResult = { ok: true, reason: 'WebGPU is correct and faster here', cpuMs: 20, webgpuMs: 5 };
const SLOWER: ProbeResult = { ok: false, reason: 'WebGPU is correct but slower here', cpuMs: 5, webgpuMs: 20 };

test('cpu runs no probe; webgpu checks correctness only; neither remembers anything', async () => {
  const s = setup();
  try {
    s.probe.answer({ correct: CORRECT, timed: FASTER });
    assert.deepEqual(await chooseProvider('cpu', s.options), { executionProvider: 'cpu', reason: 'the CPU, as set' });
    assert.equal(s.probe.calls().length, 0);
    assert.equal((await chooseProvider('webgpu', s.options)).executionProvider, 'webgpu');
    assert.deepEqual(s.probe.calls(), [['--probe-webgpu']]);
    assert.ok(!existsSync(s.verdictFile));
  } finally {
    s.done();
  }
});

test('auto times once and remembers the timing; later starts check correctness and reuse it', async () => {
  const s = setup();
  try {
    s.probe.answer({ correct: CORRECT, timed: SLOWER });
    assert.equal((await chooseProvider('auto', s.options)).executionProvider, 'cpu');
    assert.deepEqual(s.probe.calls(), [['--probe-webgpu', '--time-shape', s.dir]]);
    // The next start: the timing comes from the file (even though the stand-in would now say faster).
    s.probe.answer({ correct: CORRECT, timed: FASTER });
    const again = await chooseProvider('auto', s.options);
    assert.deepEqual(again, { executionProvider: 'cpu', reason: SLOWER.reason });
    assert.deepEqual(s.probe.calls()[1], ['--probe-webgpu']);
    // A driver that breaks WebGPU after the timing was remembered: the correctness check catches it.
    s.probe.answer({ correct: { ok: false, reason: 'the fp16 self-test differs from the CPU at row 2' }, timed: FASTER });
    const broken = await chooseProvider('auto', s.options);
    assert.deepEqual(broken, { executionProvider: 'cpu', reason: 'the fp16 self-test differs from the CPU at row 2' });
  } finally {
    s.done();
  }
});

test('failures are never remembered; a damaged verdict file is measured again and rewritten', async () => {
  const s = setup();
  try {
    s.probe.answer({ correct: null, timed: null }); // the child exits without an answer (a crash, an OOM kill)
    const crashed = await chooseProvider('auto', s.options);
    assert.equal(crashed.executionProvider, 'cpu');
    assert.match(crashed.reason, /exited \(0\) without an answer/);
    assert.ok(!existsSync(s.verdictFile), 'a crash is not a verdict');
    s.probe.answer({ correct: CORRECT, timed: { ok: false, reason: 'timing WebGPU failed: out of memory' } });
    await chooseProvider('auto', s.options);
    assert.ok(!existsSync(s.verdictFile), 'an untimed failure is not a verdict');
    s.probe.answer({ correct: CORRECT, timed: FASTER });
    assert.equal((await chooseProvider('auto', s.options)).executionProvider, 'webgpu');
    const key = Object.keys(JSON.parse(readFileSync(s.verdictFile, 'utf8')) as object)[0];
    writeFileSync(s.verdictFile, JSON.stringify({ [key]: { ok: true } })); // damaged: no reason, no times
    const calls = s.probe.calls().length;
    assert.equal((await chooseProvider('auto', s.options)).executionProvider, 'webgpu');
    assert.deepEqual(s.probe.calls()[calls], ['--probe-webgpu', '--time-shape', s.dir], 'timed again');
    assert.deepEqual(JSON.parse(readFileSync(s.verdictFile, 'utf8')), { [key]: FASTER });
  } finally {
    s.done();
  }
});
