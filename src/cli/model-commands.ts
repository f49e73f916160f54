// `simsd inspect`, `simsd convert`, `simsd profile`: the model layer from the command line.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { describeCheckpoint } from '../model/checkpoint';
import { convertCheckpoint, type ConvertProgress } from '../model/convert';
import { RequestError } from '../model/errors';
import { prefilledCache, timeForward, windowInput } from '../model/provider';
import { ModelSession } from '../model/session';
import { PRECISIONS } from '../model/types';
import { WEIGHT_FORMATS } from '../model/weights';
import { booleanFlag, choiceFlag, numberFlag, numbersFlag, stringFlag, UsageError, type ParsedArgs } from './args';
import { providerFor } from './pair';

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
  const precision = choiceFlag(args, 'precision', PRECISIONS, 'fp32');
  const accuracyLevel = numberFlag(args, 'accuracy-level', 4);
  const started = performance.now();
  const onProgress = progressReporter(booleanFlag(args, 'progress-json'), started);
  const manifest = await convertCheckpoint(dir, out, { weights, precision, accuracyLevel, onProgress });
  const seconds = (performance.now() - started) / 1000;
  print(`converted ${dir} → ${out} (${weights} weights, ${precision} graph, ${formatBytes(manifest.dataBytes)} of weights) in ${seconds.toFixed(1)} s`);
  return { out, weights, precision, accuracyLevel, dataBytes: manifest.dataBytes, seconds, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
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
  const provider = await providerFor(args, null, print);
  const kv = choiceFlag(args, 'kv', ['device', 'host'] as const, provider.executionProvider === 'webgpu' ? 'device' : 'host');
  const loadStart = performance.now();
  const session = await ModelSession.open(dir, { executionProvider: provider.executionProvider, kv, threads: numberFlag(args, 'threads') });
  const loadMs = performance.now() - loadStart;
  try {
    const cfg = session.config;
    const positions = cacheLength + Math.max(...rows);
    if (positions > cfg.maxPositions) {
      throw new RequestError(`--cache ${cacheLength} plus --rows up to ${Math.max(...rows)} needs ${positions} positions, but the model has ${cfg.maxPositions} (max_position_embeddings)`);
    }
    const cache = await prefilledCache(session, cacheLength);
    try {
      const results: Record<string, { medianMs: number; minMs: number; transferBytes: number }> = {};
      for (const L of rows) {
        const input = windowInput(cfg, cacheLength, L);
        const before = session.transferredBytes;
        await session.forward(input, cache);
        const transferBytes = session.transferredBytes - before; // one forward's host ↔ device bytes; 0 on the CPU
        const t = await timeForward(session, input, cache, repeats);
        results[`L${L}`] = { medianMs: round(t.medianMs), minMs: round(t.minMs), transferBytes };
        print(`  L=${L} over cache ${cacheLength} (capacity ${cache.capacity}): median ${results[`L${L}`].medianMs} ms, min ${results[`L${L}`].minMs} ms, ${transferBytes} B host↔device`);
      }
      return { dir, weights: session.record.weights, precision: session.precision, accuracyLevel: session.record.accuracyLevel,
        ep: session.executionProvider, kv: session.kv, layers: cfg.numLayers, cacheLength, loadMs: round(loadMs), forward: results,
        peakRssBytes: process.resourceUsage().maxRSS * 1024 };
    } finally {
      cache.dispose();
    }
  } finally {
    await session.close();
  }
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
