// Typed reads of `simsd.*`, validated against the one place that declares them: package.json's contributed
// configuration (type, default, range, choices). A bad value is reported with what to change and the default is used
// instead, never a crash. Also the records built from the settings for the engine and the completion service. Pure
// (a `get(key)` function, no VS Code), so tests drive exactly what the extension runs.
import * as path from 'node:path';
import type { CompletionLimits, CompletionSettings } from '../completion/service';
import type { EngineConfig, EngineReady, ModelLocation } from '../protocol/messages';
import type { RevealRuleName, StrategyName } from '../protocol/request';
import { modelName } from '../hub/names';
import packageJson from '../../package.json';

export type StrategySetting = StrategyName | 'auto';
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
    readonly strategy: StrategySetting;
    readonly revealRule: RevealRuleName;
    readonly threshold: number;
    readonly temperature: number;
    readonly topK: number;
    readonly blocksPerVerify: number | 'auto';
  };
  readonly model: { readonly draft: string; readonly target: string };   // '' = the embedded pair
  readonly hub: { readonly endpoint: string };     // '' = HF_ENDPOINT, else https://huggingface.co
  readonly backend: 'local' | 'remote';
  readonly remote: { readonly url: string; readonly model: string; readonly fim: 'auto' | 'on' | 'off' };
  readonly executionProvider: ProviderSetting;
  readonly threads: number | null;                 // null = cores − 1
  readonly cacheMaxMemoryMB: number;
  readonly generate: { readonly maxTokens: number };
}

export interface SettingsRead {
  readonly settings: Settings;
  readonly problems: readonly string[];            // one line per rejected value
}

/** One contributed setting, as package.json declares it. */
interface SettingSchema {
  readonly type: string | readonly string[];
  readonly default: unknown;
  readonly enum?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
}

/** Every `simsd.*` setting, keyed without the `simsd.` prefix. */
export const SETTINGS_SCHEMA: Readonly<Record<string, SettingSchema>> = Object.fromEntries(
  Object.entries(packageJson.contributes.configuration.properties as Record<string, SettingSchema>)
    .map(([key, schema]) => [key.slice('simsd.'.length), schema]),
);

/** Strategy names before native decoding took its reveal rule from simsd.decode.revealRule. */
const RENAMED_STRATEGIES: Readonly<Record<string, { strategy: StrategyName; rule: RevealRuleName }>> = {
  'vanilla-static': { strategy: 'native', rule: 'static' },
  'vanilla-dynamic': { strategy: 'native', rule: 'dynamic' },
};

type Get = (key: string) => unknown;

export function readSettings(get: Get): SettingsRead {
  const problems: string[] = [];
  /** The value of `key` if its schema accepts it, else the schema's default (and a problem). */
  const read = (key: string, value: unknown = get(key)): unknown => {
    const schema = SETTINGS_SCHEMA[key];
    if (schema === undefined) throw new Error(`internal: simsd.${key} is not contributed in package.json`);
    if (value === undefined || value === null) return schema.default;
    const want = accepts(schema, value);
    if (want === null) return typeof value === 'string' ? value.trim() : value;
    problems.push(`simsd.${key}: ${JSON.stringify(value)} is not ${want}; using the default`);
    return schema.default;
  };
  const autoOrNumber = (key: string) => read(key) as number | 'auto';

  let strategyValue = get('decode.strategy');
  let ruleValue = get('decode.revealRule');
  const renamed = typeof strategyValue === 'string' ? RENAMED_STRATEGIES[strategyValue] : undefined;
  if (renamed !== undefined) {
    problems.push(`simsd.decode.strategy: "${String(strategyValue)}" is now "${renamed.strategy}" with simsd.decode.revealRule "${renamed.rule}"; using that`);
    strategyValue = renamed.strategy;
    ruleValue ??= renamed.rule;
  }
  const threads = autoOrNumber('threads');

  const settings: Settings = {
    enable: read('enable') as boolean,
    enabledLanguages: read('enabledLanguages') as string[],
    disabledGlobs: read('disabledGlobs') as string[],
    completion: {
      auto: read('completion.auto') as boolean,
      debounceMs: autoOrNumber('completion.debounceMs'),
      prefixLines: read('completion.prefixLines') as number,
      suffixLines: read('completion.suffixLines') as number,
      maxPromptTokens: read('completion.maxPromptTokens') as number,
      maxTokens: read('completion.maxTokens') as number,
      multiline: read('completion.multiline') as 'auto' | 'always' | 'never',
      maxLines: read('completion.maxLines') as number,
      maxLineSuffix: read('completion.maxLineSuffix') as number,
      fim: read('completion.fim') as 'auto' | 'on' | 'off',
    },
    decode: {
      strategy: read('decode.strategy', strategyValue) as StrategySetting,
      revealRule: read('decode.revealRule', ruleValue) as RevealRuleName,
      threshold: read('decode.threshold') as number,
      temperature: read('decode.temperature') as number,
      topK: read('decode.topK') as number,
      blocksPerVerify: autoOrNumber('decode.blocksPerVerify'),
    },
    model: { draft: read('model.draft') as string, target: read('model.target') as string },
    hub: { endpoint: read('hub.endpoint') as string },
    backend: read('backend') as 'local' | 'remote',
    remote: { url: read('remote.url') as string, model: read('remote.model') as string, fim: read('remote.fim') as 'auto' | 'on' | 'off' },
    executionProvider: read('executionProvider') as ProviderSetting,
    threads: threads === 'auto' ? null : threads, // a bad value falls back to the declared default, "auto"
    cacheMaxMemoryMB: read('cache.maxMemoryMB') as number,
    generate: { maxTokens: read('generate.maxTokens') as number },
  };
  return { settings, problems };
}

/** Null when `schema` accepts `value`, else what it wants, for the problem line. */
function accepts(schema: SettingSchema, value: unknown): string | null {
  const types = typeof schema.type === 'string' ? [schema.type] : schema.type;
  const range = `in [${schema.minimum ?? '−∞'}, ${schema.maximum ?? '∞'}]`;
  const inRange = (n: number) => n >= (schema.minimum ?? -Infinity) && n <= (schema.maximum ?? Infinity);
  const wants: string[] = [];
  for (const type of types) {
    if (type === 'boolean') { if (typeof value === 'boolean') return null; wants.push('true or false'); }
    if (type === 'integer') { if (typeof value === 'number' && Number.isInteger(value) && inRange(value)) return null; wants.push(`an integer ${range}`); }
    if (type === 'number') { if (typeof value === 'number' && Number.isFinite(value) && inRange(value)) return null; wants.push(`a number ${range}`); }
    if (type === 'array') { if (Array.isArray(value) && value.every((s) => typeof s === 'string')) return null; wants.push('a list of strings'); }
    if (type === 'string') {
      // A string beside a number type means the word of the default ("auto").
      const choices = schema.enum ?? (types.length > 1 ? [String(schema.default)] : null);
      if (typeof value === 'string' && (choices === null || choices.includes(value))) return null;
      wants.push(choices === null ? 'a string' : `one of ${choices.join(', ')}`);
    }
  }
  return wants.join(' or ');
}

/** Which pair the engine loads: the embedded pair in the extension's `models/` folder unless the settings name folders. */
export interface PairChoice {
  readonly target: ModelLocation;
  readonly draft: ModelLocation | null;
}

export function modelPair(extensionPath: string, settings: Settings): PairChoice {
  const embedded = (role: 'target' | 'draft'): ModelLocation => ({ dir: path.join(extensionPath, 'models', role), label: `embedded ${role}` });
  const custom = (dir: string, role: string): ModelLocation => ({ dir, label: `${modelName(dir)} (${role})` });
  if (settings.model.target === '') {
    return { target: embedded('target'), draft: settings.model.draft === '' ? embedded('draft') : custom(settings.model.draft, 'draft') };
  }
  return { target: custom(settings.model.target, 'target'), draft: settings.model.draft === '' ? null : custom(settings.model.draft, 'draft') };
}

export function engineConfig(pair: PairChoice, settings: Settings, storage: string): EngineConfig {
  return {
    target: pair.target, draft: pair.draft, threads: settings.threads,
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
      strategy: s.decode.strategy, rule: s.decode.revealRule, threshold: s.decode.threshold, temperature: s.decode.temperature,
      topK: s.decode.topK, blocksPerVerify: s.decode.blocksPerVerify === 'auto' ? 1 : s.decode.blocksPerVerify,
    },
  };
}
