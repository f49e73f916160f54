// `simsd generate`, `simsd bench`, `simsd demo`: the decoding strategies from the command line.
import * as os from 'node:os';
import * as path from 'node:path';
import { buildCursorContext } from '../completion/context';
import { buildPrompt } from '../prompt/build';
import { CALIBRATION_TEXT, calibrateForAuto } from '../decode/calibrate';
import { generate, strategyFor, withCaches, type GenerateRequest } from '../decode/generate';
import { RequestError } from '../model/errors';
import type { SdarTokenizer } from '../model/tokenizer';
import { booleanFlag, choiceFlag, choicesFlag, numberFlag, numbersFlag, stringFlag, UsageError, type ParsedArgs } from './args';
import { benchJsonLine, formatBenchTable, runBench } from './bench';
import { REVEAL_RULE_NAMES, STRATEGY_NAMES } from '../protocol/request';
import { STRATEGY_CHOICES } from './commands';
import type { Print } from './model-commands';
import { embeddedModelsDir, loadPair, requiredFlag } from './pair';
import { checkVocabulary, parsePromptsJsonl, readUserText, type PromptEntry } from './user-input';

/** The prompt as the user gave it, read before any model loads: text (or a file's text), or checked ids. */
type PromptSource = { readonly text: string; readonly chat: boolean } | { readonly ids: readonly number[] };

function promptSource(args: ParsedArgs): PromptSource {
  const given = ['prompt', 'prompt-file', 'prompt-ids'].filter((name) => args.values.has(name));
  if (given.length === 0) throw new UsageError('generate needs --prompt TEXT, --prompt-file F or --prompt-ids 1,2,3');
  if (given.length > 1) throw new UsageError(`give only one of ${given.map((name) => `--${name}`).join(', ')}`);
  const chat = booleanFlag(args, 'chat');
  const ids = numbersFlag(args, 'prompt-ids');
  if (ids !== undefined) {
    if (chat) throw new UsageError('--chat applies to prompt text (--prompt, --prompt-file), not to --prompt-ids');
    return { ids };
  }
  const file = stringFlag(args, 'prompt-file');
  return { text: file !== undefined ? readUserText(file) : stringFlag(args, 'prompt') ?? '', chat };
}

function promptIds(source: PromptSource, tokenizer: SdarTokenizer, vocabSize: number): number[] {
  if ('ids' in source) {
    checkVocabulary(source.ids, vocabSize, '--prompt-ids');
    return [...source.ids];
  }
  return source.chat ? tokenizer.encodeChat([{ role: 'user', content: source.text }]) : tokenizer.encode(source.text);
}

export async function generateCommand(args: ParsedArgs, print: Print): Promise<object> {
  const source = promptSource(args);
  const temperature = numberFlag(args, 'temperature', 0);
  const strategy = choiceFlag(args, 'strategy', STRATEGY_CHOICES, 'auto');
  const request: GenerateRequest = {
    strategy, rule: choiceFlag(args, 'rule', REVEAL_RULE_NAMES, 'static'), maxTokens: numberFlag(args, 'max-tokens', 64), threshold: numberFlag(args, 'threshold', 0.9),
    temperature, seed: numberFlag(args, 'seed', 0), topK: numberFlag(args, 'top-k', 64),
    fold: !booleanFlag(args, 'no-fold'), blocksPerVerify: numberFlag(args, 'blocks-per-verify', 1),
  };
  const pair = await loadPair(requiredFlag(args, 'target'), stringFlag(args, 'draft') ?? null, temperature > 0 ? 'sampling' : 'greedy', args, print);
  try {
    const ids = promptIds(source, pair.tokenizer, pair.models.target.config.vocabSize);
    const autoEstimates = strategy === 'auto' && pair.models.draft
      ? await calibrateForAuto(pair.models, pair.tokenizer.encode(CALIBRATION_TEXT), { temperature, seed: request.seed })
      : undefined;
    const chosen = strategyFor({ ...request, autoEstimates }, pair.models.draft !== undefined);
    const g = await withCaches(pair.models, (caches) => generate(pair.models, caches, ids, { ...request, strategy: chosen }));
    const text = pair.tokenizer.decode(g.tokenIds, { skipSpecial: true });
    print(text);
    print(`[${chosen}: ${g.tokenIds.length} tokens, ${g.stats.tokPerS.toFixed(1)} tok/s, ${g.finishReason}${g.stats.acceptLength ? `, accept length ${g.stats.acceptLength.mean.toFixed(2)}` : ''}]`);
    return { tokenIds: g.tokenIds, text, finishReason: g.finishReason, promptTokens: ids.length, ep: pair.provider.executionProvider, precision: pair.precision, ...g.stats };
  } finally {
    await pair.close();
  }
}

/** Bench prompts as ids: text entries tokenized, id entries held to the target's vocabulary. */
function benchPrompts(entries: readonly PromptEntry[], tokenizer: SdarTokenizer, vocabSize: number): number[][] {
  return entries.map((e) => {
    if ('text' in e) return tokenizer.encode(e.text);
    checkVocabulary(e.ids, vocabSize, e.where);
    return [...e.ids];
  });
}

export async function benchCommand(args: ParsedArgs, print: Print): Promise<object> {
  const file = stringFlag(args, 'prompts') ?? path.join(__dirname, '..', 'media', 'demo', 'prompts.jsonl');
  const entries = parsePromptsJsonl(readUserText(file), file);
  const maxTokens = numberFlag(args, 'max-tokens', 64);
  const threshold = numberFlag(args, 'threshold', 0.9);
  const pair = await loadPair(requiredFlag(args, 'target'), requiredFlag(args, 'draft'), 'greedy', args, print);
  try {
    const prompts = benchPrompts(entries, pair.tokenizer, pair.models.target.config.vocabSize);
    const report = await runBench(pair.models, { prompts, maxTokens, base: { threshold } });
    print(formatBenchTable(report));
    return JSON.parse(benchJsonLine(report, { device: os.cpus()[0]?.model ?? 'cpu', ep: pair.provider.executionProvider, precision: pair.precision, models: pair.labels })) as object;
  } finally {
    await pair.close();
  }
}

/** Completes media/demo/sample.py at its <CURSOR> with the embedded pair, once per strategy. */
export async function demoCommand(args: ParsedArgs, print: Print): Promise<object> {
  const file = stringFlag(args, 'file') ?? path.join(__dirname, '..', 'media', 'demo', 'sample.py');
  const source = readUserText(file);
  const at = source.indexOf('<CURSOR>');
  if (at < 0) throw new UsageError(`${file} has no <CURSOR> marker`);
  const maxTokens = numberFlag(args, 'max-tokens', 48);
  const strategies = choicesFlag(args, 'strategies', STRATEGY_NAMES, STRATEGY_NAMES);
  const models = embeddedModelsDir();
  const pair = await loadPair(stringFlag(args, 'target') ?? path.join(models, 'target'), stringFlag(args, 'draft') ?? path.join(models, 'draft'), 'greedy', args, print);
  try {
    const before = source.slice(0, at);
    const cursor = { line: before.split('\n').length - 1, character: at - before.lastIndexOf('\n') - 1 };
    const context = buildCursorContext({ text: source.replace('<CURSOR>', ''), languageId: 'python', uri: file }, cursor);
    const maxPromptTokens = Math.min(1024, pair.contextTokens - maxTokens - pair.models.target.config.blockLength);
    if (maxPromptTokens < 1) throw new RequestError(`--max-tokens ${maxTokens} leaves no room for a prompt in the target's context of ${pair.contextTokens} tokens`);
    const prompt = buildPrompt(context, [], pair.tokenizer, { maxPromptTokens, layout: pair.fim ? 'fim' : 'prefix' });
    print(`${path.basename(file)} at line ${cursor.line + 1}, ${prompt.layout} prompt of ${prompt.ids.length} tokens (models: ${Object.values(pair.labels).join(' + ')})`);
    const results: Record<string, object> = {};
    for (const strategy of strategies) {
      const g = await withCaches(pair.models, (caches) => generate(pair.models, caches, prompt.ids, { strategy, maxTokens }));
      const text = pair.tokenizer.decode(g.tokenIds, { skipSpecial: true });
      const s = g.stats;
      print(`\n── ${strategy}: ${s.newTokens} tokens, ${s.tokPerS.toFixed(1)} tok/s, ${s.targetForwardsPerToken.toFixed(2)} target forwards/token${s.acceptLength ? `, ${s.acceptLength.mean.toFixed(2)} accepted per target pass` : ''}`);
      print(text.split('\n').map((l) => `│ ${l}`).join('\n'));
      results[strategy] = { text, tokens: s.newTokens, tokPerS: s.tokPerS, targetForwardsPerToken: s.targetForwardsPerToken, acceptLength: s.acceptLength?.mean ?? null };
    }
    return { file, layout: prompt.layout, promptTokens: prompt.ids.length, ep: pair.provider.executionProvider, precision: pair.precision, results };
  } finally {
    await pair.close();
  }
}
