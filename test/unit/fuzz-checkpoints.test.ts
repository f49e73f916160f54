// Malformed checkpoints, seeded (test/tools/fuzz-checkpoints.ts): every case must end, within a time and a memory
// bound, either in success or in a typed error (CheckpointError / RequestError) whose message names the folder's
// file. The cases run in a child process with a capped heap, watched from here, so a crash (V8 out of memory, an
// abort) or a hang (a FIFO opened for reading, an endless template) fails the test and names the case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { tempDir } from '../fixtures/corrupt';

const SEED = 20261203;
const CASES = 240;
const CASE_MS = 5_000;          // per case, measured in the child
const SILENCE_MS = 20_000;      // no line from the child for this long: a hang
const MAX_HEAP_MB = 1_024;      // --max-old-space-size of the child: more is a crash
const MAX_RSS_MB = 1_536;       // resident size after any case

interface CaseLine { case?: number; start?: number; mutation: string; outcome?: 'ok' | 'error'; errorName?: string; message?: string; ms?: number; rssMB?: number }

test(`${CASES} malformed checkpoints (seed ${SEED}) each end in success or a typed error naming the file, within ${CASE_MS} ms and ${MAX_RSS_MB} MB`, async () => {
  const work = tempDir('simsd-fuzz');
  const lines: CaseLine[] = [];
  let current: CaseLine | null = null;
  try {
    const exit = await new Promise<{ code: number | null; signal: string | null; hung: boolean; stderr: string }>((done) => {
      const child = spawn(process.execPath, [`--max-old-space-size=${MAX_HEAP_MB}`, resolve('out/tools/fuzz-checkpoints.js'),
        '--seed', String(SEED), '--cases', String(CASES), '--work', work.path], { stdio: ['ignore', 'pipe', 'pipe'] });
      let buffer = '';
      let stderr = '';
      let hung = false;
      let watchdog = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, SILENCE_MS);
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.stdout.on('data', (d: Buffer) => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, SILENCE_MS);
        buffer += d.toString();
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = JSON.parse(buffer.slice(0, nl)) as CaseLine;
          buffer = buffer.slice(nl + 1);
          if (line.start !== undefined) current = line;
          else { lines.push(line); current = null; }
        }
      });
      child.on('exit', (code, signal) => { clearTimeout(watchdog); done({ code, signal, hung, stderr }); });
    });
    const inFlight = current as CaseLine | null;
    assert.ok(!exit.hung, `case ${inFlight?.start} hung (${inFlight?.mutation})`);
    assert.equal(exit.code, 0, `the fuzz process died (${exit.signal ?? exit.code}) in case ${inFlight?.start} (${inFlight?.mutation}): ${exit.stderr.slice(-800)}`);
    assert.equal(lines.length, CASES);
    const failures: string[] = [];
    for (const r of lines) {
      const where = `case ${r.case} (${r.mutation})`;
      if ((r.ms ?? 0) > CASE_MS) failures.push(`${where}: ${r.ms} ms`);
      if ((r.rssMB ?? 0) > MAX_RSS_MB) failures.push(`${where}: ${r.rssMB} MB resident`);
      if (r.outcome === 'error') {
        if (r.errorName !== 'CheckpointError' && r.errorName !== 'RequestError') failures.push(`${where}: ${r.errorName}: ${r.message}`);
        else if (!r.message?.includes(`case-${r.case}/`)) failures.push(`${where}: the message names no file of the checkpoint: ${r.message}`);
      }
    }
    assert.deepEqual(failures, []);
    const errors = lines.filter((r) => r.outcome === 'error').length;
    assert.ok(errors > CASES * 0.6, `most mutations must be refused (${errors}/${CASES}); fewer means the mutations stopped biting`);
    const slowest = Math.max(...lines.map((r) => r.ms ?? 0));
    const rss = Math.max(...lines.map((r) => r.rssMB ?? 0));
    console.log(`fuzz: ${CASES} cases, seed ${SEED}: ${errors} refused with a typed error, ${CASES - errors} accepted; slowest ${slowest} ms, peak RSS ${rss} MB`);
  } finally {
    work.remove();
  }
});
