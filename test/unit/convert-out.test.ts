// What a conversion may replace (src/model/output-dir.ts): nothing the project did not write. Every pre-existing
// OUT state is either converted into (absent, empty, a previous conversion and nothing else) or refused with an
// 'unsafe-output' CheckpointError that names OUT, leaving every byte as it was; no `.partial-*` folder is ever left,
// and the debris of a crashed conversion is removed by the next one only when its process is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { convertCheckpoint, convertModel, CONVERSION_RECORD } from '../../src/model/convert';
import { CheckpointError } from '../../src/model/errors';
import { CONVERTED_MARKER } from '../../src/model/output-dir';
import { ModelSession, readConversionRecord } from '../../src/model/session';
import type { WeightFormat } from '../../src/model/weights';
import { tempDir } from '../fixtures/corrupt';
import { fixtureConfig, makeCheckpoint, makeRandomWeights, TINY } from '../fixtures/tiny-checkpoint';

/** What a full conversion of a fixture checkpoint writes. */
const CONVERTED_FILES = [CONVERTED_MARKER, CONVERSION_RECORD, 'config.json', 'generation_config.json', 'model.data', 'model.debug.onnx',
  'model.onnx', 'model.sampling.onnx', 'tokenizer.json', 'tokenizer_config.json'].sort();

/** Every path under `root` (links not followed): 'dir', 'link <target>' or 'file <sha256>'. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      const key = relative(root, p);
      if (st.isSymbolicLink()) out.set(key, `link ${readlinkSync(p)}`);
      else if (st.isDirectory()) { out.set(key, 'dir'); walk(p); }
      else out.set(key, `file ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(root);
  return out;
}

function debris(root: string): string[] {
  return [...snapshot(root).keys()].filter((k) => /\.(partial|old)-\d/.test(k));
}

async function expectRefused(run: () => Promise<unknown>, out: string, ...fragments: string[]): Promise<CheckpointError> {
  let caught: unknown;
  try {
    await run();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CheckpointError, `expected a refusal, got ${caught === undefined ? 'success' : String(caught)}`);
  assert.equal(caught.problem, 'unsafe-output', caught.message);
  assert.ok(caught.message.includes(resolve(out)), `message does not name ${resolve(out)}: ${caught.message}`);
  for (const f of fragments) assert.ok(caught.message.includes(f), `message lacks "${f}": ${caught.message}`);
  assert.ok(!caught.message.includes('\n'), 'one line');
  return caught;
}

/** A work folder holding a tiny checkpoint at work/parent/ckpt (so the input's parent is not the temp root). */
function withCheckpoint(label: string, body: (work: string, ckpt: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const work = tempDir(`simsd-${label}`);
    try {
      const ckpt = join(work.path, 'parent', 'ckpt');
      makeCheckpoint(ckpt, { ...TINY });
      await body(work.path, ckpt);
    } finally {
      work.remove();
    }
  };
}

/** Refused, and the whole work tree (checkpoint, OUT, siblings) unchanged to the byte. */
async function expectRefusedUnchanged(work: string, ckpt: string, out: string, ...fragments: string[]): Promise<void> {
  const before = snapshot(work);
  await expectRefused(() => convertCheckpoint(ckpt, out, { weights: 'fp32' }), out, ...fragments);
  assert.deepEqual(snapshot(work), before);
}

// The reproducers of the issue: each used to exit 0 with the data gone.

test('a user folder holding notes.txt is refused and kept byte for byte', withCheckpoint('out', async (work, ckpt) => {
  const out = join(work, 'u');
  mkdirSync(join(out, 'sub'), { recursive: true });
  writeFileSync(join(out, 'notes.txt'), 'precious\n');
  writeFileSync(join(out, 'sub', 'more.txt'), 'also precious\n');
  await expectRefusedUnchanged(work, ckpt, out, 'notes.txt', 'did not write');
}));

test('a regular file as OUT is refused and kept', withCheckpoint('out', async (work, ckpt) => {
  const out = join(work, 'u');
  writeFileSync(out, 'precious\n');
  await expectRefusedUnchanged(work, ckpt, out, 'is a file');
}));

test('the input checkpoint folder itself as OUT is refused', withCheckpoint('out', async (work, ckpt) => {
  await expectRefusedUnchanged(work, ckpt, ckpt, 'is the checkpoint folder', `${ckpt}-onnx`);
}));

test("the input's parent as OUT is refused", withCheckpoint('out', async (work, ckpt) => {
  await expectRefusedUnchanged(work, ckpt, join(ckpt, '..'), 'contains the checkpoint folder');
}));

test('a folder inside the input is refused, even an empty one or one not there yet', withCheckpoint('out', async (work, ckpt) => {
  mkdirSync(join(ckpt, 'onnx'));
  await expectRefusedUnchanged(work, ckpt, join(ckpt, 'onnx'), 'is inside the checkpoint folder');
  await expectRefusedUnchanged(work, ckpt, join(ckpt, 'new', 'onnx'), 'is inside the checkpoint folder');
}));

test('OUT reached through a link into the input is seen through (real paths)', withCheckpoint('out', async (work, ckpt) => {
  symlinkSync(ckpt, join(work, 'alias'));
  await expectRefusedUnchanged(work, ckpt, join(work, 'alias', 'onnx'), 'is inside the checkpoint folder');
  await expectRefusedUnchanged(work, join(work, 'alias'), join(ckpt, '..'), 'contains the checkpoint folder');
}));

test('`--out .` is refused in a folder of user files, in the checkpoint and in its parent', withCheckpoint('out', async (work, ckpt) => {
  const home = join(work, 'home');
  mkdirSync(home);
  writeFileSync(join(home, 'notes.txt'), 'precious\n');
  const cwd = process.cwd();
  try {
    for (const dir of [home, ckpt, join(ckpt, '..')]) {
      process.chdir(dir);
      await expectRefusedUnchanged(work, ckpt, '.');
    }
  } finally {
    process.chdir(cwd);
  }
}));

test('a previous conversion holding a file it did not write is refused, naming the file', withCheckpoint('out', async (work, ckpt) => {
  const out = join(work, 'out');
  await convertCheckpoint(ckpt, out, { weights: 'fp32', variants: ['greedy'] });
  writeFileSync(join(out, 'notes.txt'), 'precious\n');
  await expectRefusedUnchanged(work, ckpt, out, 'holds a previous conversion', 'notes.txt');
}));

test('a folder holding only model.json of another format is not taken for a conversion', withCheckpoint('out', async (work, ckpt) => {
  const out = join(work, 'out');
  mkdirSync(out);
  writeFileSync(join(out, CONVERSION_RECORD), '{"format": "something-else"}\n');
  await expectRefusedUnchanged(work, ckpt, out, 'did not write');
}));

test('a conversion made before the marker (model.json, no marker) is still replaced', withCheckpoint('out', async (work, ckpt) => {
  const out = join(work, 'out');
  await convertCheckpoint(ckpt, out, { weights: 'fp32', variants: ['greedy'] });
  unlinkSync(join(out, CONVERTED_MARKER));
  await convertCheckpoint(ckpt, out, { weights: 'int4' });
  assert.deepEqual(readdirSync(out).sort(), CONVERTED_FILES);
  assert.equal(readConversionRecord(out).weights, 'int4');
}));

// OUT changing while a conversion runs: checked again just before the rename.

for (const start of ['absent', 'empty'] as const) {
  test(`a user file put into OUT (${start} at the start) while converting is kept, and the conversion refused`, async () => {
    const work = tempDir('simsd-out');
    try {
      const out = join(work.path, 'out');
      if (start === 'empty') mkdirSync(out);
      const good = makeRandomWeights(fixtureConfig({ ...TINY }), 1);
      const meddling = { ...good, read: (name: string) => {
        if (name === 'lm_head.weight' && !existsSync(join(out, 'notes.txt'))) {
          mkdirSync(out, { recursive: true });
          writeFileSync(join(out, 'notes.txt'), 'precious\n');
        }
        return good.read(name);
      } };
      await expectRefused(() => convertModel(meddling, out, { weights: 'fp32' }), out, 'notes.txt');
      assert.deepEqual(readdirSync(work.path), ['out']);
      assert.deepEqual(readdirSync(out), ['notes.txt']);
      assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'precious\n');
    } finally {
      work.remove();
    }
  });
}

// The property: every pre-existing OUT state × weight format.

interface OutState {
  readonly name: string;
  readonly converts: boolean;
  /** Makes the state in `work` for the checkpoint `ckpt`; returns OUT. */
  make(work: string, ckpt: string): Promise<string>;
}

const userDir = (dir: string): string => {
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'notes.txt'), 'precious\n');
  writeFileSync(join(dir, 'sub', 'data.bin'), Buffer.from([0, 1, 2, 255]));
  return dir;
};

const STATES: readonly OutState[] = [
  { name: 'absent', converts: true, make: async (work) => join(work, 'out') },
  { name: 'an empty folder', converts: true, make: async (work) => { mkdirSync(join(work, 'out')); return join(work, 'out'); } },
  { name: 'a previous conversion', converts: true, make: async (work, ckpt) => {
    await convertCheckpoint(ckpt, join(work, 'out'), { weights: 'fp16', variants: ['greedy'] });
    return join(work, 'out');
  } },
  { name: 'a previous conversion plus a foreign file', converts: false, make: async (work, ckpt) => {
    await convertCheckpoint(ckpt, join(work, 'out'), { weights: 'fp16', variants: ['greedy'] });
    writeFileSync(join(work, 'out', 'notes.txt'), 'precious\n');
    return join(work, 'out');
  } },
  { name: 'a non-empty user folder', converts: false, make: async (work) => userDir(join(work, 'out')) },
  { name: 'a regular file', converts: false, make: async (work) => { writeFileSync(join(work, 'out'), 'precious\n'); return join(work, 'out'); } },
  { name: 'a symlink to a user folder', converts: false, make: async (work) => {
    symlinkSync(userDir(join(work, 'user')), join(work, 'out'));
    return join(work, 'out');
  } },
  { name: 'a dangling symlink', converts: false, make: async (work) => { symlinkSync(join(work, 'nowhere'), join(work, 'out')); return join(work, 'out'); } },
  { name: 'inside the input', converts: false, make: async (_work, ckpt) => join(ckpt, 'onnx') },
  { name: 'the input', converts: false, make: async (_work, ckpt) => ckpt },
  { name: 'the parent of the input', converts: false, make: async (_work, ckpt) => join(ckpt, '..') },
];

for (const weights of ['fp32', 'int4'] as const satisfies readonly WeightFormat[]) {
  for (const state of STATES) {
    test(`OUT ${state.name}, ${weights}: ${state.converts ? 'a complete new conversion' : 'refused, every byte kept'}; no partial left`,
      withCheckpoint('out-matrix', async (work, ckpt) => {
        const out = resolve(await state.make(work, ckpt));
        const before = snapshot(work);
        let error: unknown = null;
        try {
          await convertCheckpoint(ckpt, out, { weights });
        } catch (err) {
          error = err;
        }
        assert.deepEqual(debris(work), [], 'a .partial-* or .old-* folder was left');
        if (error === null) {
          assert.ok(state.converts, `${state.name} was converted into; it should have been refused`);
          await assertCompleteConversion(out, weights);
          const outside = (snap: Map<string, string>) => [...snap].filter(([k]) => k !== relative(work, out) && !k.startsWith(relative(work, out) + sep));
          assert.deepEqual(outside(snapshot(work)), outside(before), 'something outside OUT changed');
        } else {
          assert.ok(!state.converts, `${state.name} was refused: ${String(error)}`);
          assert.ok(error instanceof CheckpointError && error.problem === 'unsafe-output', String(error));
          assert.ok(error.message.includes(out), error.message);
          assert.deepEqual(snapshot(work), before);
        }
      }));
  }
}

async function assertCompleteConversion(out: string, weights: WeightFormat): Promise<void> {
  assert.ok(statSync(out).isDirectory() && !lstatSync(out).isSymbolicLink());
  assert.deepEqual(readdirSync(out).sort(), CONVERTED_FILES);
  const manifest = readConversionRecord(out);
  assert.equal(manifest.weights, weights);
  assert.deepEqual([...manifest.variants], ['greedy', 'sampling', 'debug']);
  assert.equal(statSync(join(out, 'model.data')).size, manifest.dataBytes);
  const session = await ModelSession.open(out, { threads: 1 });
  await session.close();
}

// Debris of crashed conversions.

/** The pid of a process that has exited (spawnSync waits for it). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.equal(r.status, 0);
  return r.pid;
}

/** A folder as a conversion killed halfway leaves it: some of our files, no marker. */
function crashedFolder(dir: string, extra?: string): void {
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.data'), Buffer.alloc(5000, 7));
  writeFileSync(join(dir, 'model.onnx'), 'half a graph');
  if (extra) writeFileSync(join(dir, extra), 'precious\n');
}

test('debris of a dead conversion to the same OUT is removed; a live one, a foreign file, another OUT are left', withCheckpoint('out-stale', async (work, ckpt) => {
  const dead = deadPid();
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    assert.ok(live.pid !== undefined);
    const out = join(work, 'out');
    const removed = [`out.partial-${dead}-1700000000000`, `out.partial-${dead}-1700000000001-AbC123`, `out.old-${dead}-1700000000002`];
    const kept = [`out.partial-${live.pid}-1700000000003-XyZ789`, `out.partial-${process.pid}-1700000000004`, `other.partial-${dead}-1700000000005`];
    for (const name of [...removed, ...kept]) crashedFolder(join(work, name));
    crashedFolder(join(work, `out.partial-${dead}-1700000000006`), 'notes.txt');
    kept.push(`out.partial-${dead}-1700000000006`);
    const keptBefore = kept.map((name) => [...snapshot(join(work, name))]);

    await convertCheckpoint(ckpt, out, { weights: 'fp32' });

    for (const name of removed) assert.ok(!existsSync(join(work, name)), `${name} was not removed`);
    assert.deepEqual(kept.map((name) => [...snapshot(join(work, name))]), keptBefore, 'a kept folder changed');
    assert.deepEqual(readdirSync(work).sort(), ['out', 'parent', ...kept].sort());
    assert.deepEqual(readdirSync(out).sort(), CONVERTED_FILES);
  } finally {
    live.kill();
  }
}));

test('a refused conversion removes no debris (nothing is touched before OUT is judged safe)', withCheckpoint('out-stale', async (work, ckpt) => {
  userDir(join(work, 'out'));
  crashedFolder(join(work, `out.partial-${deadPid()}-1700000000000`));
  await expectRefusedUnchanged(work, ckpt, join(work, 'out'));
}));

// The command line: exit code 2, one line on stderr, the user's file intact.

test('`simsd convert CKPT --out USERDIR` exits 2 with one line on stderr and keeps the folder', withCheckpoint('out-cli', async (work, ckpt) => {
  const cli = resolve('dist/cli.js');
  assert.ok(existsSync(cli), 'dist/cli.js is missing: build with `node esbuild.mjs` first');
  const out = userDir(join(work, 'u'));
  const before = snapshot(work);
  for (const target of [out, ckpt]) {
    const r = spawnSync(process.execPath, [cli, 'convert', ckpt, '--out', target, '--weights', 'fp32'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0].startsWith('simsd: ') && lines[0].includes(target), lines[0]);
    assert.deepEqual(snapshot(work), before);
  }
  assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'precious\n');
}));
