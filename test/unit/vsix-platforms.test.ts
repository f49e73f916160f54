// The platform VSIXes (linux-x64, win32-x64, darwin-arm64): `scripts/package.mjs --all` builds them into a temporary
// folder (never dist/), and each one's zip entries are read back: its own onnxruntime-node binding and library at the
// path the packaged dist/binding.js requires, no other platform's binaries, the bundles, the embedded pair, and the
// manifest's TargetPlatform. Needs the bundles built first (`node esbuild.mjs`, which `--tests` includes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { inflateRawSync } from 'node:zlib';

const ROOT = resolve(__dirname, '../../..');

interface Entry { name: string; size: number; method: number; compressedSize: number; localOffset: number }

/** A zip's entries, from its central directory (no zip64: a VSIX is far below 4 GB and 65535 entries). */
function listZip(zip: Buffer): Entry[] {
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  assert.ok(eocd >= 0, 'no end-of-central-directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50, 'bad central directory entry');
    const nameLength = zip.readUInt16LE(at + 28);
    entries.push({
      name: zip.toString('utf8', at + 46, at + 46 + nameLength),
      method: zip.readUInt16LE(at + 10),
      compressedSize: zip.readUInt32LE(at + 20),
      size: zip.readUInt32LE(at + 24),
      localOffset: zip.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return entries;
}

function readEntry(zip: Buffer, e: Entry): string {
  const start = e.localOffset + 30 + zip.readUInt16LE(e.localOffset + 26) + zip.readUInt16LE(e.localOffset + 28);
  const raw = zip.subarray(start, start + e.compressedSize);
  return (e.method === 8 ? inflateRawSync(raw) : raw).toString('utf8');
}

const BIN = 'extension/node_modules/onnxruntime-node/bin/napi-v6';
/** target → [process.platform, process.arch, the files its bin folder must hold exactly]. */
const TARGETS: Record<string, [string, string, string[]]> = {
  'linux-x64': ['linux', 'x64', ['onnxruntime_binding.node', 'libonnxruntime.so.1']],
  'win32-x64': ['win32', 'x64', ['onnxruntime_binding.node', 'onnxruntime.dll', 'DirectML.dll', 'dxcompiler.dll', 'dxil.dll']],
  // The binding's LC_LOAD_DYLIB is @rpath/libonnxruntime.1.dylib; the identical libonnxruntime.1.30.0.dylib is left out.
  'darwin-arm64': ['darwin', 'arm64', ['onnxruntime_binding.node', 'libonnxruntime.1.dylib']],
};
const NATIVE = /\.(node|dll|dylib|so(\.\d+)*)$/;

test('scripts/package.mjs --all: each platform VSIX carries only its own onnxruntime binaries', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'simsd-vsix-'));
  try {
    const started = Date.now();
    execFileSync(process.execPath, [join(ROOT, 'scripts/package.mjs'), '--all', '--out-dir', out], { cwd: ROOT, stdio: 'pipe' });
    t.diagnostic(`packaged 3 VSIXes in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    for (const [target, [platform, arch, libs]] of Object.entries(TARGETS)) {
      const file = join(out, `simsd-${target}.vsix`);
      const zip = readFileSync(file);
      const entries = listZip(zip);
      const names = new Set(entries.map((e) => e.name));
      t.diagnostic(`${target}: ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB, ${entries.length} entries`);

      const manifest = entries.find((e) => e.name === 'extension.vsixmanifest');
      assert.ok(manifest, `${target}: no extension.vsixmanifest`);
      assert.match(readEntry(zip, manifest), new RegExp(`TargetPlatform="${target}"`), `${target}: manifest TargetPlatform`);

      for (const need of ['package.json', 'dist/extension.js', 'dist/worker.js', 'dist/cli.js',
        'models/draft/model.safetensors', 'models/draft/config.json', 'models/draft/tokenizer.json',
        'models/target/model.safetensors', 'models/target/config.json', 'models/target/tokenizer.json',
        'node_modules/onnxruntime-common/package.json', 'node_modules/onnxruntime-node/package.json']) {
        assert.ok(names.has(`extension/${need}`), `${target}: missing ${need}`);
      }

      // The binding at the path the packaged binding.js requires for this platform.
      const bindingJs = entries.find((e) => e.name === 'extension/node_modules/onnxruntime-node/dist/binding.js');
      assert.ok(bindingJs, `${target}: no onnxruntime-node/dist/binding.js`);
      const required = /require\(`([^`]+\/onnxruntime_binding\.node)`\)/.exec(readEntry(zip, bindingJs))?.[1];
      assert.ok(required, `${target}: binding.js no longer requires a templated onnxruntime_binding.node path`);
      const bindingPath = posix.join('extension/node_modules/onnxruntime-node/dist',
        required.replace('${process.platform}', platform).replace('${process.arch}', arch));
      assert.equal(bindingPath, `${BIN}/${platform}/${arch}/onnxruntime_binding.node`);

      const own = `${BIN}/${platform}/${arch}/`;
      const native = entries.filter((e) => NATIVE.test(e.name) || e.name.startsWith(`${BIN}/`)).map((e) => e.name);
      assert.deepEqual(native.filter((n) => !n.startsWith(own)), [], `${target}: another platform's binaries`);
      assert.deepEqual(native.map((n) => n.slice(own.length)).sort(), [...libs].sort(), `${target}: its bin folder`);
      for (const lib of libs) {
        const e = entries.find((x) => x.name === own + lib)!;
        const onDisk = statSync(join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6', platform, arch, lib)).size;
        assert.equal(e.size, onDisk, `${target}: ${lib} size differs from node_modules`);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
