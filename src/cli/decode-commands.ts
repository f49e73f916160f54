// `simsd generate`, `simsd bench`, `simsd demo`: the decoding strategies from the command line.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildWindows } from '../completion/context';
import { buildPrompt } from '../completion/prompt';
import { CALIBRATION_TEXT, calibrateForAuto } from '../decode/calibrate';
import { generate, strategyFor, type GenerateRequest } from '../decode/generate';
import { isStrategyName, STRATEGIES } from '../decode/strategies';
import type { StrategyName } from '../decode/types';
import { KvCache } from '../model/kv';
import type { SdarTokenizer } from '../model/tokenizer';
import { choiceFlag, numberFlag, stringFlag, UsageError, type ParsedArgs } from './args';
import { benchJsonLine, formatBenchTable, runBench } from './bench';
import type { Print } from './model-commands';
import { embeddedModelsDir, loadPair, requiredFlag } from './pair';

const STRATEGY_CHOICES = ['auto', ...Object.keys(STRATEGIES)] as const;

function promptIds(args: ParsedArgs, tokenizer: SdarTokenizer): number[] {
  const ids = stringFlag(args, 'prompt-ids');
  if (ids !== undefined) {
    const parsed = ids.split(',').map((s) => Number(s.trim()));
    if (parsed.some((n) => !Number.isSafeInteger(n) || n < 0)) throw new UsageError(`--prompt-ids must be comma-separated token ids, got '${ids}'`);
    return parsed;
  }
  const file = stringFlag(args, 'prompt-file');
  const text = file !== undefined ? fs.readFileSync(file, 'utf8') : stringFlag(args, 'prompt');
  if (text === undefined) throw new UsageError('generate needs --prompt TEXT, --prompt-file F or --prompt-ids 1,2,3');
  return args.flags.has('chat') ? tokenizer.encodeChat([{ role: 'user', content: text }]) : tokenizer.encode(text);
}

export async function generateCommand(args: ParsedArgs, print: Print): Promise<object> {
  const temperature = numberFlag(args, 'temperature', 0);
  const pair = await loadPair(requiredFlag(args, 'target'), stringFlag(args, 'draft') ?? null, temperature > 0 ? 'sampling' : 'greedy', args, print);
  try {
    const ids = promptIds(args, pair.tokenizer);
    const strategy = choiceFlag(args, 'strategy', STRATEGY_CHOICES, 'auto');
    const request: GenerateRequest = {
      strategy: strategy as StrategyName | 'auto', maxTokens: numberFlag(args, 'max-tokens', 64), threshold: numberFlag(args, 'threshold', 0.9),
      temperature, seed: numberFlag(args, 'seed', 0), topK: numberFlag(args, 'top-k', 64),
      fold: !args.flags.has('no-fold'), blocksPerVerify: numberFlag(args, 'blocks-per-verify', 1),
    };
    const autoEstimates = strategy === 'auto' && pair.models.draft
      ? await calibrateForAuto(pair.models, pair.tokenizer.encode(CALIBRATION_TEXT), { temperature, seed: request.seed })
      : undefined;
    const chosen = strategyFor({ ...request, autoEstimates }, pair.models.draft !== undefined);
    const caches = { target: KvCache.forConfig(pair.models.target.config), draft: pair.models.draft ? KvCache.forConfig(pair.models.draft.config) : undefined };
    const g = await generate(pair.models, caches, ids, { ...request, strategy: chosen });
    const text = pair.tokenizer.decode([...g.tokenIds], { skipSpecial: true });
    print(text);
    print(`[${chosen}: ${g.tokenIds.length} tokens, ${g.stats.tokPerS.toFixed(1)} tok/s, ${g.finishReason}${g.stats.acceptLength ? `, accept length ${g.stats.acceptLength.mean.toFixed(2)}` : ''}]`);
    return { tokenIds: [...g.tokenIds], text, finishReason: g.finishReason, promptTokens: ids.length, ...g.stats };
  } finally {
    await pair.close();
  }
}

/** Prompts from a .jsonl file of {"prompt": text} or {"ids": [...]} lines. */
function readPrompts(file: string, tokenizer: SdarTokenizer): number[][] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((line, i) => {
    const entry = JSON.parse(line) as { prompt?: string; ids?: number[] };
    if (Array.isArray(entry.ids)) return entry.ids;
    if (typeof entry.prompt === 'string') return tokenizer.encode(entry.prompt);
    throw new UsageError(`${file}:${i + 1}: expected {"prompt": "..."} or {"ids": [...]}`);
  });
}

export async function benchCommand(args: ParsedArgs, print: Print): Promise<object> {
  const pair = await loadPair(requiredFlag(args, 'target'), requiredFlag(args, 'draft'), 'greedy', args, print);
  try {
    const prompts = readPrompts(stringFlag(args, 'prompts') ?? path.join(__dirname, '..', 'media', 'demo', 'prompts.jsonl'), pair.tokenizer);
    const report = await runBench(pair.models, { prompts, maxTokens: numberFlag(args, 'max-tokens', 64), base: { threshold: numberFlag(args, 'threshold', 0.9) } });
    print(formatBenchTable(report));
    return JSON.parse(benchJsonLine(report, { device: os.cpus()[0]?.model ?? 'cpu', ep: 'cpu', models: pair.labels })) as object;
  } finally {
    await pair.close();
  }
}

/** Completes media/demo/sample.py at its <CURSOR> with the embedded pair, once per strategy. */
export async function demoCommand(args: ParsedArgs, print: Print): Promise<object> {
  const models = embeddedModelsDir();
  const pair = await loadPair(stringFlag(args, 'target') ?? path.join(models, 'target'), stringFlag(args, 'draft') ?? path.join(models, 'draft'), 'greedy', args, print);
  try {
    const file = stringFlag(args, 'file') ?? path.join(__dirname, '..', 'media', 'demo', 'sample.py');
    const source = fs.readFileSync(file, 'utf8');
    const at = source.indexOf('<CURSOR>');
    if (at < 0) throw new UsageError(`${file} has no <CURSOR> marker`);
    const before = source.slice(0, at);
    const cursor = { line: before.split('\n').length - 1, character: at - before.lastIndexOf('\n') - 1 };
    const windows = buildWindows({ text: source.replace('<CURSOR>', ''), languageId: 'python', uri: file }, cursor);
    const maxTokens = numberFlag(args, 'max-tokens', 48);
    const maxPromptTokens = Math.min(1024, pair.contextTokens - maxTokens - pair.models.target.config.blockLength);
    const prompt = buildPrompt(windows, [], pair.tokenizer, { maxPromptTokens, layout: pair.fim ? 'fim' : 'prefix' });
    print(`${path.basename(file)} at line ${cursor.line + 1}, ${prompt.layout} prompt of ${prompt.ids.length} tokens (models: ${Object.values(pair.labels).join(' + ')})`);
    const strategies = (stringFlag(args, 'strategies') ?? 'vanilla-static,vanilla-dynamic,simsd,simsd-exact').split(',').filter(isStrategyName);
    const results: Record<string, object> = {};
    for (const strategy of strategies) {
      const caches = { target: KvCache.forConfig(pair.models.target.config), draft: pair.models.draft ? KvCache.forConfig(pair.models.draft.config) : undefined };
      const g = await generate(pair.models, caches, prompt.ids, { strategy, maxTokens });
      const text = pair.tokenizer.decode([...g.tokenIds], { skipSpecial: true });
      const s = g.stats;
      print(`\n── ${strategy}: ${s.newTokens} tokens, ${s.tokPerS.toFixed(1)} tok/s, ${s.targetForwardsPerToken.toFixed(2)} target forwards/token${s.acceptLength ? `, ${s.acceptLength.mean.toFixed(2)} accepted per target pass` : ''}`);
      print(text.split('\n').map((l) => `│ ${l}`).join('\n'));
      results[strategy] = { text, tokens: s.newTokens, tokPerS: s.tokPerS, targetForwardsPerToken: s.targetForwardsPerToken, acceptLength: s.acceptLength?.mean ?? null };
    }
    return { file, layout: prompt.layout, promptTokens: prompt.ids.length, results };
  } finally {
    await pair.close();
  }
}
