// Packages the extension into one VSIX per platform with `vsce package --target`, each carrying only its own
// platform's onnxruntime-node binaries. The bundles must be built first (`node esbuild.mjs`; `npm run package` does).
// Usage: node scripts/package.mjs [--all | --target <t>]... [--out-dir <dir>]
//   default: --target linux-x64 --out-dir dist  →  dist/simsd-<target>.vsix
// `.vscodeignore` lists the linux-x64 binaries (so a plain `vsce package` behaves as before); for each target a copy
// of it with that one line swapped for the target's binaries is written to a temporary folder and passed as
// --ignoreFile. vsce needs no network for this.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = 'node_modules/onnxruntime-node/bin/napi-v6';

/**
 * What each target ships from onnxruntime-node's bin folder (dist/binding.js loads
 * bin/napi-v6/<process.platform>/<process.arch>/onnxruntime_binding.node, which loads the library beside it).
 * darwin-arm64: the binding's only LC_LOAD_DYLIB for onnxruntime is @rpath/libonnxruntime.1.dylib (rpath
 * @loader_path), so the identical libonnxruntime.1.30.0.dylib copy is left out. win32-x64: DirectML.dll, dxcompiler.dll
 * and dxil.dll stay (the DirectML EP, and Dawn's D3D12 backend for WebGPU compiles shaders with dxcompiler/dxil).
 */
const TARGETS = {
  'linux-x64': [`${BIN}/linux/x64/**`],
  'win32-x64': [`${BIN}/win32/x64/**`],
  'darwin-arm64': [`${BIN}/darwin/arm64/onnxruntime_binding.node`, `${BIN}/darwin/arm64/libonnxruntime.1.dylib`],
};

function parseArgs(argv) {
  const targets = [];
  let outDir = join(ROOT, 'dist');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--all') targets.push(...Object.keys(TARGETS));
    else if (a === '--target' && argv[i + 1]) targets.push(argv[++i]);
    else if (a === '--out-dir' && argv[i + 1]) outDir = resolve(argv[++i]);
    else throw new Error(`unknown argument ${a}; usage: node scripts/package.mjs [--all | --target <t>]... [--out-dir <dir>]`);
  }
  for (const t of targets) if (!(t in TARGETS)) throw new Error(`unknown target ${t}; known: ${Object.keys(TARGETS).join(', ')}`);
  return { targets: [...new Set(targets.length ? targets : ['linux-x64'])], outDir };
}

/** .vscodeignore with its one onnxruntime-node bin line replaced by the target's lines. */
function ignoreFor(target, base) {
  const lines = base.split('\n');
  const binLines = lines.filter((l) => l.trim().startsWith(`!${BIN}/`));
  if (binLines.length !== 1) throw new Error(`.vscodeignore must have exactly one "!${BIN}/…" line, found ${binLines.length}`);
  return lines.flatMap((l) => (l === binLines[0] ? TARGETS[target].map((p) => `!${p}`) : [l])).join('\n');
}

function run(args) {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
    child.on('error', fail);
    child.on('exit', (code, signal) => (code === 0 ? ok() : fail(new Error(`vsce exited with ${code ?? signal}`))));
  });
}

const { targets, outDir } = parseArgs(process.argv.slice(2));
const vsce = createRequire(join(ROOT, 'package.json')).resolve('@vscode/vsce/vsce');
const base = readFileSync(join(ROOT, '.vscodeignore'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'simsd-package-'));
mkdirSync(outDir, { recursive: true });
try {
  for (const target of targets) {
    const ignoreFile = join(tmp, `${target}.vscodeignore`);
    writeFileSync(ignoreFile, ignoreFor(target, base));
    const out = join(outDir, `simsd-${target}.vsix`);
    await run([vsce, 'package', '--target', target, '--skip-license', '--ignoreFile', ignoreFile, '--out', out]);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
