// Writes a random SDAR checkpoint in the real layout, for manual checks and benches.
// Usage: node out/tools/make-checkpoint.js DIR [--shape tiny|small|sdar-1.7b|sdar-8b] [--layers N] [--seed S] [--shards N]
// sdar-1.7b: SDAR-1.7B's exact config (hidden 2048, 16/8 heads, head 128, FFN 6144, vocab 151936, BF16, 2 shards) with
// N layers (the real model has 28: about 4 GB). sdar-8b: SDAR-8B's (hidden 4096, 32/8 heads, head 128, FFN 12288,
// vocab 151936, untied lm_head, BF16, 4 shards) with N layers (the real model has 36: about 16 GB).
import { makeCheckpoint, sdar17bShape, sdar8bShape, SMALL, TINY, type FixtureOptions } from '../fixtures/tiny-checkpoint';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const dir = process.argv[2];
if (!dir || dir.startsWith('--')) {
  process.stderr.write('usage: make-checkpoint DIR [--shape tiny|small|sdar-1.7b|sdar-8b] [--layers N] [--seed S] [--shards N]\n');
  process.exit(2);
}
const shape = flag('shape', 'tiny');
const layers = Number(flag('layers', '2'));
const shapes: Record<string, FixtureOptions> = { tiny: { ...TINY, numLayers: layers }, small: { ...SMALL, numLayers: layers }, 'sdar-1.7b': sdar17bShape(layers), 'sdar-8b': sdar8bShape(layers) };
const options = shapes[shape];
if (!options) throw new Error(`unknown --shape ${shape}`);
const started = Date.now();
const config = makeCheckpoint(dir, { ...options, seed: Number(flag('seed', '1')), sharded: Number(flag('shards', String(options.sharded ?? 1))) });
process.stdout.write(JSON.stringify({ dir, shape, layers: config.numLayers, seconds: (Date.now() - started) / 1000 }) + '\n');
