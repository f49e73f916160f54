// The engine core, independent of how messages arrive: loads the pair, keeps a prefix cache per file, turns
// prompts into ids, runs the decode driver and reports text and stats. One request at a time (the host's
// scheduler guarantees it); cancellation is checked before every forward.
import { performance } from 'node:perf_hooks';
import { buildPrompt, type PromptTokenizer } from '../completion/prompt';
import { memoizeTokenizer } from '../completion/tokenizer-memo';
import { PrefixCacheBudget } from '../cache/budget';
import { FilePrefixCache } from '../cache/prefix-cache';
import { updateEstimates, type AutoEstimates } from '../decode/auto';
import { CALIBRATION_TEXT, calibrateForAuto } from '../decode/calibrate';
import { generate, strategyFor, type Generation, type ModelPair } from '../decode/generate';
import type { ProviderChoice } from '../model/provider';
import { ModelSession } from '../model/session';
import { loadTokenizer, type SdarTokenizer } from '../model/tokenizer';
import type { CancelFlag, ForwardInput, ForwardModel, ForwardOptions, KvCacheView } from '../model/types';
import { resolveModel } from './models';
import type { EngineConfig, EngineReady, GenerateMessage, GenerationResult, PromptSpec } from './protocol';

export interface EngineHooks {
  log(line: string): void;
  progress(id: number, text: string): void;
}

export class Engine {
  private estimates: AutoEstimates = {};
  /** Files closed while their request ran: their cache is dropped when the request ends. */
  private readonly closedDuringRun = new Set<string>();
  private runningFile: string | null = null;
  private readonly budget: PrefixCacheBudget;
  private readonly promptTokenizer: PromptTokenizer;

  private constructor(
    private readonly models: ModelPair,
    private readonly tokenizer: SdarTokenizer,
    private readyInfo: EngineReady,
    config: EngineConfig,
    private readonly hooks: EngineHooks,
  ) {
    this.budget = new PrefixCacheBudget(config.cacheBudgetBytes);
    // The layout is the host's choice (simsd.completion.fim and the manifest); FIM needs the tokenizer's ids.
    this.promptTokenizer = memoizeTokenizer({ encode: (t) => tokenizer.encode(t), fim: tokenizer.fim });
  }

  static async load(config: EngineConfig, provider: ProviderChoice, hooks: EngineHooks): Promise<Engine> {
    const started = performance.now();
    const target = await resolveModel(config.target.dir, config.convertedRoot, hooks.log);
    const draft = config.draft ? await resolveModel(config.draft.dir, config.convertedRoot, hooks.log) : null;
    const variant = config.sampling === true ? 'sampling' : 'greedy';
    const open = (dir: string) => ModelSession.open(dir, { variant, executionProvider: provider.executionProvider, threads: config.threads ?? undefined, log: hooks.log });
    const targetSession = await open(target.convertedDir);
    const draftSession = draft ? await open(draft.convertedDir) : undefined;
    const tokenizer = loadTokenizer(target.convertedDir);
    const models: ModelPair = { target: yielding(targetSession), draft: draftSession ? yielding(draftSession) : undefined };
    const ready: EngineReady = {
      executionProvider: provider.executionProvider, providerReason: provider.reason,
      target: config.target.label, draft: config.draft?.label ?? null, strategy: 'vanilla-static',
      loadMs: 0, fim: target.fim && tokenizer.fim !== null, contextTokens: target.contextTokens,
    };
    const engine = new Engine(models, tokenizer, ready, config, hooks);
    const strategy = await engine.calibrate();
    engine.readyInfo = { ...ready, strategy, loadMs: performance.now() - started };
    return engine;
  }

  get ready(): EngineReady {
    return this.readyInfo;
  }

  /** A short measured run of each lossless candidate, so `auto` starts from this device's numbers. */
  private async calibrate(): Promise<string> {
    this.estimates = await calibrateForAuto(this.models, this.tokenizer.encode(CALIBRATION_TEXT));
    const choice = strategyFor({ strategy: 'auto', maxTokens: 1, autoEstimates: this.estimates }, this.models.draft !== undefined);
    this.hooks.log(`auto strategy: ${choice} (${Object.entries(this.estimates).map(([k, e]) => `${k} ${e ? ((1000 * e.tokens) / e.ms).toFixed(1) : '?'} tok/s`).join(', ')})`);
    return choice;
  }

  async run(message: GenerateMessage, signal: CancelFlag): Promise<GenerationResult> {
    const received = performance.now();
    const params = this.withinContext(message);
    const promptIds = this.promptIds(message.prompt, this.promptBudget(message.prompt.kind === 'completion' ? message.prompt.outputReserve : params.maxTokens));
    this.closedDuringRun.delete(message.fileKey); // a request for it means the file is open (again)
    const cache = this.cacheFor(message.fileKey);
    this.runningFile = message.fileKey;
    const reusedTokens = cache.keepLength(promptIds);
    let stoppedAtNewline = false;
    const flag: CancelFlag = { get cancelled() { return signal.cancelled || stoppedAtNewline; } };
    const tokens: number[] = [];
    let generation: Generation;
    try {
      generation = await generate(
        this.models, { target: cache.target, draft: cache.draft ?? undefined }, promptIds,
        { ...params, autoEstimates: this.estimates }, flag,
        (p) => {
          // Only Generate Code shows progress, and only single-line requests need the text to stop at a line end.
          if (p.tokens.length === 0 || (!message.stopAtNewline && message.kind !== 'generate')) return;
          tokens.push(...p.tokens);
          const text = this.tokenizer.decode(tokens, { skipSpecial: true });
          if (message.stopAtNewline && /\S[^\n]*\n/.test(text)) stoppedAtNewline = true;
          if (message.kind === 'generate') this.hooks.progress(message.id, text);
        },
      );
    } finally {
      this.runningFile = null;
    }
    cache.record([...promptIds, ...generation.tokenIds]);
    if (this.closedDuringRun.delete(message.fileKey)) {
      this.budget.delete(message.fileKey);
    } else if (message.fileKey !== '' && !this.budget.touch(message.fileKey, cache)) {
      this.hooks.log(`the prefix cache of ${message.fileKey} (${cache.bytes} bytes) exceeds simsd.cache.maxMemoryMB; not kept`);
    }
    if (message.params.strategy === 'auto') this.estimates = updateEstimates(this.estimates, generation.stats);
    const finishReason = stoppedAtNewline && generation.finishReason === 'cancelled' && !signal.cancelled ? 'stop' : generation.finishReason;
    return {
      id: message.id, text: this.tokenizer.decode([...generation.tokenIds], { skipSpecial: true }), tokenIds: [...generation.tokenIds],
      finishReason, stats: generation.stats, strategy: generation.stats.strategy,
      prefix: { promptTokens: promptIds.length, reusedTokens, prefilledTokens: generation.stats.prefillTokens, prefillMs: generation.stats.prefillMs },
      engineMs: performance.now() - received,
    };
  }

  closeFile(fileKey: string): void {
    this.budget.delete(fileKey);
    if (fileKey === this.runningFile) this.closedDuringRun.add(fileKey);
  }

  get memory(): { cacheBytes: number; files: number } {
    return { cacheBytes: this.budget.bytes, files: this.budget.files };
  }

  /**
   * The output budget kept within the model's context: at most half of it, so that a Generate Code request of
   * 256 tokens on a 256-token model still leaves room for the instruction and its code context.
   */
  private withinContext(message: GenerateMessage): GenerateMessage['params'] {
    const cap = Math.floor(this.readyInfo.contextTokens / 2);
    if (message.params.maxTokens <= cap) return message.params;
    this.hooks.log(`maxTokens ${message.params.maxTokens} exceeds half of the model's ${this.readyInfo.contextTokens}-token context; using ${cap}`);
    return { ...message.params, maxTokens: cap };
  }

  /** Prompt tokens that leave room for the output within the model's context (one block of slack). */
  private promptBudget(maxTokens: number): number {
    return Math.max(this.models.target.config.blockLength, this.readyInfo.contextTokens - maxTokens - this.models.target.config.blockLength);
  }

  private promptIds(prompt: PromptSpec, budget: number): number[] {
    switch (prompt.kind) {
      case 'ids': return [...prompt.ids];
      case 'completion': {
        const options = { ...prompt.options, maxPromptTokens: Math.min(prompt.options.maxPromptTokens, budget) };
        return [...buildPrompt(prompt.windows, prompt.ring, this.promptTokenizer, options).ids];
      }
      case 'chat': {
        const ask = (context: string) => this.tokenizer.encodeChat([{ role: 'user', content: `${prompt.instruction}${context}\nReply with code only.` }]);
        const lines = prompt.context.split('\n');
        // Keep the code context nearest the cursor that fits; the instruction itself is always kept.
        for (let from = 0; from <= lines.length; from += Math.max(1, Math.ceil(lines.length / 8))) {
          const code = lines.slice(from).join('\n');
          const ids = ask(code.trim() === '' ? '' : `\n\nThe code before the cursor (${prompt.languageId}):\n\`\`\`\n${code}\n\`\`\``);
          if (ids.length <= budget || code.trim() === '') return ids;
        }
        return ask('');
      }
    }
  }

  private cacheFor(fileKey: string): FilePrefixCache {
    const existing = fileKey === '' ? undefined : this.budget.get(fileKey);
    return existing ?? new FilePrefixCache(this.models.target.config.blockLength, this.models.target.config, this.models.draft?.config ?? null);
  }
}

/**
 * Gives the event loop a turn before every forward, so that a cancel message posted while the previous
 * forward ran is seen before the next one starts (onnxruntime's run blocks the thread it runs on).
 */
function yielding(model: ForwardModel): ForwardModel {
  return {
    config: model.config,
    variant: model.variant,
    async forward(input: ForwardInput, cache: KvCacheView, options?: ForwardOptions) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return model.forward(input, cache, options);
    },
  };
}
