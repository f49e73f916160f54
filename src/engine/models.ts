// Locating a model for the engine: a converted folder is used as is; a checkpoint folder (safetensors) is
// converted once into `convertedRoot/<key>` (key: path, file sizes and times, format, converter version) and
// reused afterwards. Conversion runs in the engine, never on the extension host's thread.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { convertCheckpoint, CONVERSION_RECORD } from '../model/convert';
import { CheckpointError } from '../model/errors';
import { MAX_BYTES, readJsonFile } from '../model/user-file';
import { modelName } from '../hub/names';
import { weightsFor } from '../model/provider';
import { readConfig } from '../model/config';
import type { Precision } from '../model/types';

const CONVERTER_VERSION = 1;

export interface ResolvedModel {
  readonly convertedDir: string;
  readonly checkpointDir: string;
  readonly converted: boolean;       // converted by this call (first run)
  readonly fim: boolean;             // the checkpoint's manifest.json says FIM prompts work
  readonly contextTokens: number;    // positions the model was trained on (manifest), else max_position_embeddings
}

/** Conversion progress of a checkpoint folder, for the status bar and Select Models' notification. */
export type ConvertProgress = (done: number, total: number, name: string) => void;

/**
 * `precision`: the graph the execution provider runs (fp32 on the CPU, fp16 on WebGPU); a checkpoint is converted to
 * it (fp32/fp16 weights below 50 M parameters, int4 above), a converted folder is used as it is.
 */
export async function resolveModel(
  dir: string, convertedRoot: string, log: (line: string) => void, progress?: ConvertProgress, precision: Precision = 'fp32',
): Promise<ResolvedModel> {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new CheckpointError(abs, 'missing-file', 'model folder not found');
  const manifest = readExportManifest(path.join(abs, 'manifest.json'), log);
  const fim = fimVerdict(manifest) ?? fimVerdict(readExportManifest(path.join(abs, '..', 'manifest.json'), log)) ?? false;
  const config = readConfig(abs);
  const contextTokens = trainedContext(manifest) ?? config.maxPositions;
  if (fs.existsSync(path.join(abs, CONVERSION_RECORD))) return { convertedDir: abs, checkpointDir: abs, converted: false, fim, contextTokens };
  const weights = weightsFor(config, precision);
  const name = modelName(abs).replace('/', '--');
  const format = precision === 'fp32' ? weights : `${weights}-${precision}`;
  const out = path.join(convertedRoot, `${name}-${format}-${checkpointKey(abs, format)}`);
  if (fs.existsSync(path.join(out, CONVERSION_RECORD))) return { convertedDir: out, checkpointDir: abs, converted: false, fim, contextTokens };
  log(`converting ${abs} to ${weights} ONNX (${precision} graph) in ${out}`);
  const started = Date.now();
  await convertCheckpoint(abs, out, { weights, precision, accuracyLevel: 4, onProgress: (p) => progress?.(p.done, p.total, modelName(abs)) });
  log(`converted ${modelName(abs)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { convertedDir: out, checkpointDir: abs, converted: true, fim, contextTokens };
}

function checkpointKey(dir: string, format: string): string {
  const hash = createHash('sha1').update(`${CONVERTER_VERSION}|${format}|${dir}`);
  for (const name of fs.readdirSync(dir).sort()) {
    if (!/\.(json|safetensors|jinja)$/.test(name)) continue;
    const st = fs.statSync(path.join(dir, name));
    hash.update(`|${name}:${st.size}:${st.mtimeMs}`);
  }
  return hash.digest('hex').slice(0, 12);
}

/** `trained_context_tokens` of an export manifest (our embedded pair: 256), or null. */
function trainedContext(manifest: Record<string, unknown> | null): number | null {
  const n = manifest?.trained_context_tokens;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * The FIM verdict of an export manifest (beside the checkpoint, or the pair's one level up): `{ "fim": true|false }`
 * or `{ "fim": { "usable": … } }`; null when it says nothing.
 */
function fimVerdict(manifest: Record<string, unknown> | null): boolean | null {
  if (manifest === null || !('fim' in manifest)) return null;
  const fim = manifest.fim;
  return fim === true || (typeof fim === 'object' && fim !== null && (fim as { usable?: unknown }).usable === true);
}

/**
 * A `manifest.json` near a checkpoint, read for the hints our own exports put there. The name is common, so one
 * that is not a JSON object of ours (unreadable, too large, not JSON) is someone else's: ignored, with a log line.
 */
function readExportManifest(file: string, log: (line: string) => void): Record<string, unknown> | null {
  if (!fs.existsSync(file)) return null;
  try {
    const json = readJsonFile(file, MAX_BYTES.config, 'bad-config');
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
    log(`ignoring ${file}: not a JSON object`);
  } catch (e) {
    log(`ignoring ${file}: ${(e as Error).message}`);
  }
  return null;
}
