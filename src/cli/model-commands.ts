// `simsd inspect`, `simsd convert`, `simsd profile`: the model layer from the command line.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { describeCheckpoint } from '../model/checkpoint';
import { convertCheckpoint, type ConvertProgress } from '../model/convert';
import { RequestError } from '../model/errors';
import { KvCache } from '../model/kv';
import { ModelSession } from '../model/session';
import type { ForwardInput } from '../model/types';
import { WEIGHT_FORMATS } from '../model/weights';
import { booleanFlag, choiceFlag, numberFlag, numbersFlag, stringFlag, UsageError, type ParsedArgs } from './args';

export type Print = (line: string) => void;

export async function inspectCommand(args: ParsedArgs, print: Print): Promise<object> {
  const dir = requiredFolder(args);
  const s = describeCheckpoint(dir);
  print(`${s.architecture} in ${s.dir}`);
  print(`  params ${s.params.toLocaleString('en-US')}  (${formatBytes(s.weightBytes)} in ${s.shards.length} file(s): ${JSON.stringify(s.dtypes)})`);
  print(`  hidden ${s.hiddenSize}, layers ${s.numLayers}, heads ${s.numHeads}/${s.numKvHeads} (q/kv), head dim ${s.headDim}, FFN ${s.intermediateSize}, vocab ${s.vocabSize}`);
  print(`  block length ${s.blockLength}, mask id ${s.maskTokenId}, stop ids ${s.stopIds.join(', ')}, FIM ${s.tokenizer.fim ? 'yes' : 'no'}`);
  return s;
}

export async function convertCommand(args: ParsedArgs, print: Print): Promise<object> {
  const dir = requiredFolder(args);
  const out = stringFlag(args, 'out');
  if (!out) throw new UsageError('convert needs --out OUT');
  const weights = choiceFlag(args, 'weights', WEIGHT_FORMATS, 'int4');
  const accuracyLevel = numberFlag(args, 'accuracy-level', 4);
  const started = performance.now();
  const onProgress = progressReporter(booleanFlag(args, 'progress-json'), started);
  const manifest = await convertCheckpoint(dir, out, { weights, accuracyLevel, onProgress });
  const seconds = (performance.now() - started) / 1000;
  print(`converted ${dir} → ${out} (${weights}, ${formatBytes(manifest.dataBytes)} of weights) in ${seconds.toFixed(1)} s`);
  return { out, weights, accuracyLevel, dataBytes: manifest.dataBytes, seconds, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

/**
 * Conversion progress on stderr (stdout stays the result): a human line every ~2 s, or with --progress-json one
 * `{"progress": {tensor, done, total, bytesWritten}}` line per tensor, for a parent process to read.
 */
function progressReporter(json: boolean, started: number): (p: ConvertProgress) => void {
  const EVERY_MS = 2000;
  let shown = started;
  return (p) => {
    if (json) {
      process.stderr.write(JSON.stringify({ progress: p }) + '\n');
      return;
    }
    const now = performance.now();
    if (now - shown < EVERY_MS) return;
    shown = now;
    process.stderr.write(`converting: ${p.done}/${p.total} tensors, ${formatBytes(p.bytesWritten)} written, ${((now - started) / 1000).toFixed(0)} s (${p.tensor})\n`);
  };
}

/** Times one forward of L rows over a cache of C committed tokens: the cost unit of every strategy. */
export async function profileCommand(args: ParsedArgs, print: Print): Promise<object> {
  const dir = requiredFolder(args);
  const cacheLength = numberFlag(args, 'cache', 512);
  const rows = numbersFlag(args, 'rows', [4, 16]);
  const repeats = numberFlag(args, 'repeats', 5);
  const loadStart = performance.now();
  const session = await ModelSession.open(dir, { threads: numberFlag(args, 'threads') });
  const loadMs = performance.now() - loadStart;
  const cfg = session.config;
  const positions = cacheLength + Math.max(...rows);
  if (positions > cfg.maxPositions) {
    await session.close();
    throw new RequestError(`--cache ${cacheLength} plus --rows up to ${Math.max(...rows)} needs ${positions} positions, but the model has ${cfg.maxPositions} (max_position_embeddings)`);
  }
  const cache = KvCache.forConfig(cfg, cacheLength);
  // Fill the cache with finite values as a prefill would; the cost depends on capacity, not on the values.
  for (const l of cache.layers) { l.key.fill(0.01); l.value.fill(0.01); }
  cache.length = cacheLength;
  const results: Record<string, { medianMs: number; minMs: number }> = {};
  for (const L of rows) {
    const input: ForwardInput = {
      ids: Int32Array.from({ length: L }, (_, i) => (i * 31 + 3) % cfg.vocabSize),
      positions: Int32Array.from({ length: L }, (_, i) => cacheLength + i),
      windowMask: new Uint8Array(L * L).fill(1),
      selectRows: Int32Array.from({ length: Math.min(L, cfg.blockLength) }, (_, i) => i),
    };
    await session.forward(input, cache); // warm-up: first run at a new shape prepares kernels
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      await session.forward(input, cache);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    results[`L${L}`] = { medianMs: round(times[Math.floor(times.length / 2)]), minMs: round(times[0]) };
    print(`  L=${L} over cache ${cacheLength} (capacity ${cache.capacity}): median ${results[`L${L}`].medianMs} ms, min ${results[`L${L}`].minMs} ms`);
  }
  await session.close();
  return { dir, weights: session.record.weights, accuracyLevel: session.record.accuracyLevel, layers: cfg.numLayers,
    cacheLength, loadMs: round(loadMs), forward: results, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

/** The command's folder argument (the parser made sure there is one); a missing path is ENOENT naming it. */
function requiredFolder(args: ParsedArgs): string {
  const dir = args.positionals[0];
  if (dir === '') throw new UsageError(`${args.command} needs a folder, got an empty path`);
  if (!fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is a file; ${args.command} needs a folder`);
  return dir;
}

export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
