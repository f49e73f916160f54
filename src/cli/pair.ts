// Loading a draft/target pair for the CLI: checkpoint folders are converted once into a cache folder
// (~/.cache/simsd/converted, or --cache-dir) and reused; converted folders are opened as they are.
import * as os from 'node:os';
import * as path from 'node:path';
import type { ModelPair } from '../decode/generate';
import { resolveModel } from '../engine/models';
import { chooseProvider, precisionFor } from '../engine/provider-choice';
import { ModelSession } from '../model/session';
import type { ProviderChoice } from '../protocol/messages';
import { RequestError } from '../model/errors';
import { loadTokenizer, type SdarTokenizer } from '../model/tokenizer';
import { PRECISIONS, type GraphVariant, type Precision } from '../model/types';
import { choiceFlag, numberFlag, stringFlag, UsageError, type ParsedArgs } from './args';
import { EP_CHOICES } from './commands';

export interface LoadedPair {
  readonly models: ModelPair;
  readonly tokenizer: SdarTokenizer;
  readonly fim: boolean;                  // the target's manifest says FIM prompts work
  readonly contextTokens: number;         // the target's trained context
  readonly labels: Readonly<Record<string, string>>;
  readonly provider: ProviderChoice;
  readonly precision: Precision;          // the target's graph precision (fp16 on WebGPU where converted for it)
  close(): Promise<void>;
}

/**
 * The execution provider `--ep` asks for (default cpu): webgpu and auto run the WebGPU probe in a child process
 * (auto also times the target's shape), as the extension does; verdicts are remembered beside the converted models.
 */
export async function providerFor(args: ParsedArgs, targetDir: string | null, log: (line: string) => void): Promise<ProviderChoice> {
  const setting = choiceFlag(args, 'ep', EP_CHOICES, 'cpu');
  // Verdicts are remembered per target shape, beside the converted models; without a target nothing is timed.
  const verdictFile = targetDir === null ? null : path.join(stringFlag(args, 'cache-dir') ?? defaultCacheDir(), 'webgpu-verdicts.json');
  const choice = await chooseProvider(setting, { workerScript: path.join(__dirname, 'worker.js'), targetDir, verdictFile, log });
  if (setting === 'webgpu' && choice.executionProvider !== 'webgpu') throw new RequestError(choice.reason);
  log(`execution provider: ${choice.executionProvider} (${choice.reason})`);
  return choice;
}

/**
 * For commands that hand the models to an engine (serve, trace): the provider, then both models resolved (converted
 * once) for its precision here, so that a missing or broken checkpoint is a one-line user error before the engine starts.
 */
export async function resolveForEngine(
  args: ParsedArgs, target: string, draft: string | null, convertedRoot: string, log: (line: string) => void,
): Promise<ProviderChoice> {
  const provider = await providerFor(args, target, log);
  for (const dir of [target, draft]) if (dir !== null) await resolveModel(dir, convertedRoot, log, undefined, precisionFor(provider));
  return provider;
}

export function defaultCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'simsd', 'converted');
}

/** The repository's (or installed package's) embedded pair: models/ beside dist/. */
export function embeddedModelsDir(): string {
  return path.join(__dirname, '..', 'models');
}

export async function loadPair(target: string, draft: string | null, variant: GraphVariant, args: ParsedArgs, log: (line: string) => void): Promise<LoadedPair> {
  const cacheDir = stringFlag(args, 'cache-dir') ?? defaultCacheDir();
  const threads = numberFlag(args, 'threads');
  const provider = await providerFor(args, target, log);
  const precision = choiceFlag(args, 'precision', PRECISIONS, precisionFor(provider));
  if (precision === 'fp16' && provider.executionProvider !== 'webgpu') throw new UsageError('--precision fp16 needs WebGPU (--ep webgpu): fp16 graphs keep their KV cache on the device');
  const t = await resolveModel(target, cacheDir, log, undefined, precision);
  const d = draft ? await resolveModel(draft, cacheDir, log, undefined, precision) : null;
  const open = (dir: string) => ModelSession.open(dir, { variant, threads, executionProvider: provider.executionProvider });
  const targetSession = await open(t.convertedDir);
  const draftSession = d ? await open(d.convertedDir) : undefined;
  const tokenizer = loadTokenizer(t.convertedDir);
  return {
    models: { target: targetSession, draft: draftSession },
    tokenizer,
    fim: t.fim && tokenizer.fim !== null,
    contextTokens: t.contextTokens,
    labels: { target: path.resolve(target), ...(draft ? { draft: path.resolve(draft) } : {}) },
    provider,
    precision: targetSession.precision,
    close: async () => { await targetSession.close(); await draftSession?.close(); },
  };
}

export function requiredFlag(args: ParsedArgs, name: string): string {
  const v = stringFlag(args, name);
  if (!v) throw new UsageError(`${args.command} needs --${name}`);
  return v;
}
