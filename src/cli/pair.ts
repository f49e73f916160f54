// Loading a draft/target pair for the CLI: checkpoint folders are converted once into a cache folder
// (~/.cache/simsd/converted, or --cache-dir) and reused; converted folders are opened as they are.
import * as os from 'node:os';
import * as path from 'node:path';
import type { ModelPair } from '../decode/generate';
import { resolveModel } from '../engine/models';
import { ModelSession } from '../model/session';
import { loadTokenizer, type SdarTokenizer } from '../model/tokenizer';
import type { GraphVariant } from '../model/types';
import { numberFlag, stringFlag, UsageError, type ParsedArgs } from './args';

export interface LoadedPair {
  readonly models: ModelPair;
  readonly tokenizer: SdarTokenizer;
  readonly fim: boolean;                  // the target's manifest says FIM prompts work
  readonly contextTokens: number;         // the target's trained context
  readonly labels: Readonly<Record<string, string>>;
  close(): Promise<void>;
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
  const t = await resolveModel(target, cacheDir, log);
  const d = draft ? await resolveModel(draft, cacheDir, log) : null;
  const open = (dir: string) => ModelSession.open(dir, { variant, threads });
  const targetSession = await open(t.convertedDir);
  const draftSession = d ? await open(d.convertedDir) : undefined;
  const tokenizer = loadTokenizer(t.convertedDir);
  return {
    models: { target: targetSession, draft: draftSession },
    tokenizer,
    fim: t.fim && tokenizer.fim !== null,
    contextTokens: t.contextTokens,
    labels: { target: path.resolve(target), ...(draft ? { draft: path.resolve(draft) } : {}) },
    close: async () => { await targetSession.close(); await draftSession?.close(); },
  };
}

export function requiredFlag(args: ParsedArgs, name: string): string {
  const v = stringFlag(args, name);
  if (!v) throw new UsageError(`${args.command} needs --${name}`);
  return v;
}
