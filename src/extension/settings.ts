// Typed reads of `simsd.*` (completion.md §10), validated: a bad value is reported with what to change and the
// default is used instead, never a crash; and the records built from them for the engine and the completion
// service. Pure (a `get(key)` function, no VS Code), so tests drive exactly what the extension runs.
import * as path from 'node:path';
import { isStrategyName } from '../decode/strategies';
import type { StrategyName } from '../decode/types';
import type { CompletionLimits, CompletionSettings } from '../completion/service';
import type { EngineConfig, EngineReady, ModelLocation } from '../engine/protocol';

export type Strategy = StrategyName | 'auto';
export type ProviderSetting = 'auto' | 'cpu' | 'webgpu';

export interface Settings {
  readonly enable: boolean;
  readonly enabledLanguages: readonly string[];   // ['*'] = all
  readonly disabledGlobs: readonly string[];
  readonly completion: CompletionLimits & {
    readonly auto: boolean;
    readonly fim: 'auto' | 'on' | 'off';
  };
  readonly decode: {
    readonly strategy: Strategy;
    readonly threshold: number;
    readonly temperature: number;
    readonly topK: number;
    readonly blocksPerVerify: number | 'auto';
  };
  readonly model: { readonly draft: string; readonly target: string };   // '' = the embedded pair
  readonly executionProvider: ProviderSetting;
  readonly threads: number | null;                 // null = cores − 1
  readonly cacheMaxMemoryMB: number;
  readonly generate: { readonly maxTokens: number };
}

export interface SettingsRead {
  readonly settings: Settings;
  readonly problems: readonly string[];            // one line per rejected value
}

type Get = (key: string) => unknown;

export function readSettings(get: Get): SettingsRead {
  const problems: string[] = [];
  const bad = (key: string, value: unknown, want: string) => problems.push(`simsd.${key}: ${JSON.stringify(value)} is not ${want}; using the default`);
  const bool = (key: string, d: boolean) => { const v = get(key); if (v === undefined) return d; if (typeof v === 'boolean') return v; bad(key, v, 'true or false'); return d; };
  const int = (key: string, d: number, min: number, max: number) => {
    const v = get(key);
    if (v === undefined || v === null) return d;
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    bad(key, v, `an integer in [${min}, ${max}]`);
    return d;
  };
  const num = (key: string, d: number, min: number, max: number) => {
    const v = get(key);
    if (v === undefined) return d;
    if (typeof v === 'number' && v >= min && v <= max) return v;
    bad(key, v, `a number in [${min}, ${max}]`);
    return d;
  };
  const choice = <T extends string>(key: string, d: T, choices: readonly T[]): T => {
    const v = get(key);
    if (v === undefined) return d;
    if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
    bad(key, v, `one of ${choices.join(', ')}`);
    return d;
  };
  const strings = (key: string, d: readonly string[]) => {
    const v = get(key);
    if (v === undefined) return d;
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
    bad(key, v, 'a list of strings');
    return d;
  };
  const str = (key: string) => { const v = get(key); if (v === undefined || v === null) return ''; if (typeof v === 'string') return v.trim(); bad(key, v, 'a string'); return ''; };
  const autoOr = (key: string, min: number, max: number): number | 'auto' => {
    const v = get(key);
    if (v === undefined || v === 'auto') return 'auto';
    const n = int(key, -1, min, max);
    return n === -1 ? 'auto' : n;
  };
  const strategyValue = get('decode.strategy');
  let strategy: Strategy = 'auto';
  if (typeof strategyValue === 'string' && (strategyValue === 'auto' || isStrategyName(strategyValue))) strategy = strategyValue as Strategy;
  else if (strategyValue !== undefined) bad('decode.strategy', strategyValue, 'auto, vanilla-static, vanilla-dynamic, simsd or simsd-exact');
  const threads = autoOr('threads', 1, 256);

  const settings: Settings = {
    enable: bool('enable', true),
    enabledLanguages: strings('enabledLanguages', ['*']),
    disabledGlobs: strings('disabledGlobs', []),
    completion: {
      auto: bool('completion.auto', true),
      debounceMs: autoOr('completion.debounceMs', 0, 5000),
      prefixLines: int('completion.prefixLines', 128, 0, 10000),
      suffixLines: int('completion.suffixLines', 16, 0, 1000),
      maxPromptTokens: int('completion.maxPromptTokens', 1024, 64, 32768),
      maxTokens: int('completion.maxTokens', 64, 1, 1024),
      multiline: choice('completion.multiline', 'auto', ['auto', 'always', 'never'] as const),
      maxLines: int('completion.maxLines', 8, 1, 200),
      maxLineSuffix: int('completion.maxLineSuffix', 8, 0, 1000),
      fim: choice('completion.fim', 'auto', ['auto', 'on', 'off'] as const),
    },
    decode: {
      strategy,
      threshold: num('decode.threshold', 0.9, 0, 1),
      temperature: num('decode.temperature', 0, 0, 2),
      topK: int('decode.topK', 20, 1, 64),
      blocksPerVerify: autoOr('decode.blocksPerVerify', 1, 8),
    },
    model: { draft: str('model.draft'), target: str('model.target') },
    executionProvider: choice('executionProvider', 'auto', ['auto', 'cpu', 'webgpu'] as const),
    threads: threads === 'auto' ? null : threads, // a bad value falls back to the declared default, "auto"
    cacheMaxMemoryMB: int('cache.maxMemoryMB', 1024, 16, 65536),
    generate: { maxTokens: int('generate.maxTokens', 256, 1, 4096) },
  };
  return { settings, problems };
}

/** Which pair the engine loads: the embedded pair in the extension's `models/` folder unless the settings name folders. */
export interface PairChoice {
  readonly target: ModelLocation;
  readonly draft: ModelLocation | null;
}

export function modelPair(extensionPath: string, settings: Settings): PairChoice {
  const embedded = (role: 'target' | 'draft'): ModelLocation => ({ dir: path.join(extensionPath, 'models', role), label: `embedded ${role}` });
  const custom = (dir: string, role: string): ModelLocation => ({ dir, label: `${path.basename(dir)} (${role})` });
  if (settings.model.target === '') {
    return { target: embedded('target'), draft: settings.model.draft === '' ? embedded('draft') : custom(settings.model.draft, 'draft') };
  }
  return { target: custom(settings.model.target, 'target'), draft: settings.model.draft === '' ? null : custom(settings.model.draft, 'draft') };
}

export function engineConfig(pair: PairChoice, settings: Settings, storage: string): EngineConfig {
  return {
    target: pair.target, draft: pair.draft, executionProvider: settings.executionProvider, threads: settings.threads,
    cacheBudgetBytes: settings.cacheMaxMemoryMB * 2 ** 20, convertedRoot: path.join(storage, 'converted'),
    sampling: settings.decode.temperature > 0,
  };
}

/** What the completion service sends: FIM only when enabled and the model supports it. */
export function completionSettings(s: Settings, ready: EngineReady | null): CompletionSettings {
  const fim = s.completion.fim === 'on' || (s.completion.fim === 'auto' && ready?.fim === true);
  return {
    ...s.completion, layout: fim ? 'fim' : 'prefix',
    decode: {
      strategy: s.decode.strategy, threshold: s.decode.threshold, temperature: s.decode.temperature, topK: s.decode.topK,
      blocksPerVerify: s.decode.blocksPerVerify === 'auto' ? 1 : s.decode.blocksPerVerify,
    },
  };
}
