// Builds the three bundles (extension, engine worker, CLI) and, with --tests, every test file.
// Usage: node esbuild.mjs [--tests] [--watch]
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const external = ['vscode', 'onnxruntime-node', 'tokenizers', 'mocha', 'playwright-core', 'esbuild'];
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: true, external, logLevel: 'warning' };

const bundles = [
  { entry: 'src/extension/activate.ts', out: 'dist/extension.js' },
  { entry: 'src/engine/worker.ts', out: 'dist/worker.js' },
  { entry: 'src/cli/main.ts', out: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

for (const b of bundles) {
  if (!existsSync(b.entry)) continue; // an entry lands with the issue that builds it
  await build({ ...common, entryPoints: [b.entry], outfile: b.out, banner: b.banner });
}

if (process.argv.includes('--tests')) {
  rmSync('out/test', { recursive: true, force: true });
  const entries = walk('test').filter((f) => f.endsWith('.test.ts') && !f.startsWith(join('test', 'e2e')));
  await build({ ...common, entryPoints: entries, outdir: 'out/test', outbase: 'test' });
  const tools = walk(join('test', 'tools')).filter((f) => f.endsWith('.ts'));
  await build({ ...common, entryPoints: tools, outdir: 'out/tools', outbase: join('test', 'tools') });
  await build({ ...common, entryPoints: [join('test', 'device', 'gpu-bench.ts')], outdir: 'out/device', outbase: join('test', 'device') });
}
