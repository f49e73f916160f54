// The engine: loads the pair, keeps a prefix cache per file, turns a request's prompt into ids, runs the decode
// driver and answers with text, ids and stats. It runs one request at a time, in the order the client sends them:
// the client (client.ts) holds the only queue and decides what runs; the engine only runs it, and stops it when the
// client's cancel arrives (checked before every forward).
import { performance } from 'node:perf_hooks';
import { PrefixCacheBudget } from '../cache/budget';
import { FilePrefixCache } from '../cache/prefix-cache';
import { updateEstimates, type AutoEstimates } from '../decode/auto';
import { CALIBRATION_TEXT, calibrateForAuto } from '../decode/calibrate';
import { generate, positionsNeeded, promptRoom, strategyFor, type ModelPair } from '../decode/generate';
import { CancelledError, RequestError } from '../model/errors';
import { ModelSession } from '../model/session';
import { loadTokenizer, type SdarTokenizer } from '../model/tokenizer';
import type { CancelFlag, ForwardInput, ForwardModel, ForwardOptions, KvCache } from '../model/types';
import { buildChatPrompt, buildPrompt } from '../prompt/build';
import { memoizeTokenizer, type PromptTokenizer } from '../prompt/tokenizer';
import {
  PROTOCOL_VERSION, type EngineConfig, type EngineMessage, type EngineReady, type GenerationResult, type HostMessage,
  type ProviderChoice,
} from '../protocol/messages';
import type { GenerateParams, PromptSpec, Request } from '../protocol/request';
import { resolveModel } from './models';
import { precisionFor } from './provider-choice';

export interface EngineHooks {
  log(line: string): void;
  progress(id: number, text: string): void;
  loading(detail: string): void;
}

export class Engine {
  private estimates: AutoEstimates = {};
  /** Files closed while their request ran: their cache is dropped when the request ends. */
  private readonly closedDuringRun = new Set<string>();
  private runningFile: string | null = null;
  private readonly budget: PrefixCacheBudget;
  private readonly promptTokenizer: PromptTokenizer;
  private readonly tokenTexts = new Map<number, string>();
  private readonly cappedSaid = new Set<number>();

  private constructor(
    private readonly models: ModelPair,
    private readonly tokenizer: SdarTokenizer,
    private readyInfo: EngineReady,
    config: EngineConfig,
    private readonly hooks: EngineHooks,
  ) {
    this.budget = new PrefixCacheBudget(config.cacheBudgetBytes);
    this.promptTokenizer = memoizeTokenizer({ encode: (t) => tokenizer.encode(t), fim: tokenizer.fim });
  }

  static async load(config: EngineConfig, provider: ProviderChoice, hooks: EngineHooks): Promise<Engine> {
    const started = performance.now();
    const converting = (done: number, total: number, name: string) => hooks.loading(`converting ${name}: ${Math.floor((100 * done) / Math.max(1, total))} %`);
    // WebGPU runs fp16 graphs with the KV cache on the device; the CPU runs fp32 graphs (docs/models.md §7).
    const precision = precisionFor(provider);
    const target = await resolveModel(config.target.dir, config.convertedRoot, hooks.log, converting, precision);
    const draft = config.draft ? await resolveModel(config.draft.dir, config.convertedRoot, hooks.log, converting, precision) : null;
    hooks.loading('loading models…');
    const variant = config.sampling === true ? 'sampling' : 'greedy';
    const open = (dir: string) => ModelSession.open(dir, { variant, executionProvider: provider.executionProvider, threads: config.threads ?? undefined, log: hooks.log });
    const targetSession = await open(target.convertedDir);
    let draftSession: ModelSession | undefined;
    try {
      draftSession = draft ? await open(draft.convertedDir) : undefined;
    } catch (err) {
      await targetSession.close(); // GPU memory is not freed by the garbage collector
      throw err;
    }
    const tokenizer = loadTokenizer(target.convertedDir);
    const models: ModelPair = { target: yielding(targetSession), draft: draftSession ? yielding(draftSession) : undefined };
    const ready: EngineReady = {
      executionProvider: provider.executionProvider, providerReason: provider.reason, precision: targetSession.precision,
      target: config.target.label, draft: config.draft?.label ?? null, strategy: 'native',
      loadMs: 0, fim: target.fim && tokenizer.fim !== null, contextTokens: target.contextTokens,
    };
    const engine = new Engine(models, tokenizer, ready, config, hooks);
    engine.estimates = await calibrateForAuto(models, tokenizer.encode(CALIBRATION_TEXT));
    const strategy = strategyFor({ strategy: 'auto', maxTokens: 1, autoEstimates: engine.estimates }, models.draft !== undefined);
    hooks.log(`auto strategy: ${strategy} (${Object.entries(engine.estimates).map(([k, e]) => `${k} ${e ? ((1000 * e.tokens) / e.ms).toFixed(1) : '?'} tok/s`).join(', ')})`);
    engine.readyInfo = { ...ready, strategy, loadMs: performance.now() - started };
    return engine;
  }

  get ready(): EngineReady {
    return this.readyInfo;
  }

  async run(id: number, request: Request, signal: CancelFlag): Promise<GenerationResult> {
    const received = performance.now();
    // The server's prompts (text, messages) are held to the context as asked, never capped or cut (promptIds checks).
    const exact = request.prompt.kind === 'text' || request.prompt.kind === 'messages';
    const params = exact ? request.params : this.withinContext(request.params);
    const reserve = request.prompt.kind === 'completion' ? this.capped(request.prompt.outputReserve) : params.maxTokens;
    const promptIds = this.promptIds(request.prompt, this.promptBudget(reserve, params.blocksPerVerify ?? 1));
    if (exact) this.checkContext(promptIds.length, params);
    this.closedDuringRun.delete(request.fileKey); // a request for it means the file is open (again)
    const cache = await this.cacheFor(request.fileKey);
    this.runningFile = request.fileKey;
    const reusedTokens = cache.keepLength(promptIds);
    const output: number[] = [];
    let generation;
    try {
      generation = await generate(
        this.models, { target: cache.target, draft: cache.draft ?? undefined }, promptIds,
        { ...params, autoEstimates: this.estimates, tokenText: (t) => this.tokenText(t) }, signal,
        (p) => {
          if (p.tokens.length === 0) return;
          output.push(...p.tokens);
          this.hooks.progress(id, this.tokenizer.decode(output, { skipSpecial: true }));
        },
      );
    } catch (err) {
      // generate() leaves the caches consistent after a refusal or a cancel, so a file's kept cache stays; anything
      // else (a failed forward or commit) may leave them half-written, and a cache nobody keeps is freed now.
      const kept = request.fileKey !== '' && this.budget.get(request.fileKey) === cache;
      if (!kept || !(err instanceof RequestError || err instanceof CancelledError)) {
        this.budget.delete(request.fileKey);
        cache.dispose();
      }
      throw err;
    } finally {
      this.runningFile = null;
    }
    cache.record([...promptIds, ...generation.tokenIds]);
    // A cache that is not kept is freed now: device memory is not garbage-collected.
    if (this.closedDuringRun.delete(request.fileKey) || request.fileKey === '') {
      this.budget.delete(request.fileKey);
      cache.dispose();
    } else if (!this.budget.touch(request.fileKey, cache)) {
      this.hooks.log(`the prefix cache of ${request.fileKey} (${cache.bytes} bytes) exceeds simsd.cache.maxMemoryMB; not kept`);
      cache.dispose();
    }
    if (request.params.strategy === 'auto') this.estimates = updateEstimates(this.estimates, generation.stats);
    return {
      id, text: this.tokenizer.decode(generation.tokenIds, { skipSpecial: true }), tokenIds: generation.tokenIds,
      finishReason: generation.finishReason, stats: generation.stats,
      prefix: { promptTokens: promptIds.length, reusedTokens, prefilledTokens: generation.stats.prefillTokens, prefillMs: generation.stats.prefillMs },
      engineMs: performance.now() - received,
    };
  }

  closeFile(fileKey: string): void {
    if (fileKey === this.runningFile) {
      this.closedDuringRun.add(fileKey); // its cache is in use: freed when the request ends
      return;
    }
    const cache = this.budget.get(fileKey);
    this.budget.delete(fileKey);
    cache?.dispose();
  }

  /** One token's text, for the line-end stop and stop strings (memoised: the vocabulary is fixed). */
  private tokenText(id: number): string {
    let text = this.tokenTexts.get(id);
    if (text === undefined) {
      text = this.tokenizer.decode([id]);
      this.tokenTexts.set(id, text);
    }
    return text;
  }

  /**
   * The output budget kept within the model's context: at most half of it, so that a Generate Code request of
   * 256 tokens on a 256-token model still leaves room for the instruction and its code context. Said once per value.
   */
  private withinContext(params: GenerateParams): GenerateParams {
    const maxTokens = this.capped(params.maxTokens);
    if (maxTokens === params.maxTokens) return params;
    if (!this.cappedSaid.has(params.maxTokens)) {
      this.cappedSaid.add(params.maxTokens);
      this.hooks.log(`maxTokens ${params.maxTokens} exceeds half of the model's ${this.readyInfo.contextTokens}-token context; using ${maxTokens}`);
    }
    return { ...params, maxTokens };
  }

  private capped(maxTokens: number): number {
    return Math.min(maxTokens, Math.floor(this.readyInfo.contextTokens / 2));
  }

  /** The longest prompt that leaves room for `maxTokens` within the context and every model's positions (generate.ts checks the same). */
  private promptBudget(maxTokens: number, blocksPerVerify: number): number {
    const { target, draft } = this.models;
    const positions = Math.min(this.readyInfo.contextTokens, target.config.maxPositions, draft?.config.maxPositions ?? Infinity);
    return Math.max(target.config.blockLength, promptRoom(positions, maxTokens, target.config.blockLength, blocksPerVerify));
  }

  /** A server prompt and its output must fit the model's context (the trained one, which may be below its positions). */
  private checkContext(promptTokens: number, params: GenerateParams): void {
    const { target, draft } = this.models;
    const positions = Math.min(this.readyInfo.contextTokens, target.config.maxPositions, draft?.config.maxPositions ?? Infinity);
    const needed = positionsNeeded(promptTokens, params.maxTokens, target.config.blockLength, params.blocksPerVerify ?? 1);
    if (needed > positions) {
      throw new RequestError(`the prompt (${promptTokens} tokens) and up to ${params.maxTokens} new tokens need ${needed} positions, but the model's context is ${positions} tokens; shorten the prompt or lower max_tokens`);
    }
  }

  private promptIds(prompt: PromptSpec, budget: number): readonly number[] {
    switch (prompt.kind) {
      case 'ids': return prompt.ids;
      case 'text': {
        // PSM fill-in-the-middle only when the target can infill (its manifest says so and the tokenizer has the ids).
        const fim = this.readyInfo.fim ? this.tokenizer.fim : null;
        const prefix = this.tokenizer.encode(prompt.prefix);
        if (prompt.suffix === undefined || fim === null) return prefix;
        return [fim.prefix, ...prefix, fim.suffix, ...this.tokenizer.encode(prompt.suffix), fim.middle];
      }
      case 'messages':
        if (this.tokenizer.chatTemplate === null) throw new RequestError('the target has no chat template; use completions');
        try {
          return this.tokenizer.encodeChat(prompt.messages);
        } catch (err) {
          // The template is a program that may refuse the messages (Qwen's raises on a misplaced system turn).
          throw new RequestError((err as Error).message);
        }
      case 'completion': {
        const options = { ...prompt.options, maxPromptTokens: Math.min(prompt.options.maxPromptTokens, budget) };
        return buildPrompt(prompt.context, prompt.ring, this.promptTokenizer, options).ids;
      }
      case 'chat':
        return buildChatPrompt(prompt.instruction, prompt.context, prompt.languageId,
          (content) => this.tokenizer.encodeChat([{ role: 'user', content }]), (text) => this.tokenizer.encode(text), budget);
    }
  }

  private async cacheFor(fileKey: string): Promise<FilePrefixCache> {
    const existing = fileKey === '' ? undefined : this.budget.get(fileKey);
    return existing ?? FilePrefixCache.create(this.models.target, this.models.draft ?? null);
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
    createCache: (capacity?: number) => model.createCache(capacity),
    async forward(input: ForwardInput, cache: KvCache, options?: ForwardOptions) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return model.forward(input, cache, options);
    },
  };
}

/**
 * The engine's side of the protocol. Requests arrive one at a time (the client starts the next only after this one
 * was answered); a generate that arrives while the models still load waits for them.
 */
export function serve(post: (message: EngineMessage) => void, listen: (handler: (m: HostMessage) => void) => void, exit: () => void): void {
  let loading: Promise<Engine | null> = Promise.resolve(null);
  let active: { readonly id: number; cancelled: boolean } | null = null;
  const hooks: EngineHooks = {
    log: (line) => post({ type: 'log', line }),
    progress: (id, text) => post({ type: 'progress', id, text }),
    loading: (detail) => post({ type: 'loading', detail }),
  };

  async function run(id: number, request: Request): Promise<void> {
    const flag = { id, cancelled: false };
    active = flag;
    try {
      const engine = await loading;
      if (engine === null) throw new Error('the engine failed to load; see the log');
      if (flag.cancelled) throw new CancelledError();
      const result = await engine.run(id, request, flag);
      post(result.finishReason === 'cancelled' ? { type: 'cancelled', id } : { type: 'done', result });
    } catch (err) {
      if (err instanceof CancelledError) post({ type: 'cancelled', id });
      else post({ type: 'error', id, message: (err as Error).message, ...(err instanceof RequestError ? { requestError: true } : {}) });
    } finally {
      active = null;
    }
  }

  listen((m) => {
    switch (m.type) {
      case 'init':
        if (m.v !== PROTOCOL_VERSION) {
          post({ type: 'error', id: null, message: `protocol v${m.v} but the engine speaks v${PROTOCOL_VERSION}` });
          return;
        }
        loading = Engine.load(m.config, m.provider, hooks).then(
          (e) => { post({ type: 'ready', v: PROTOCOL_VERSION, ready: e.ready }); return e; },
          (err: Error) => { post({ type: 'error', id: null, message: `loading the models failed: ${err.message}` }); return null; },
        );
        return;
      case 'generate':
        if (active !== null) {
          post({ type: 'error', id: m.id, message: `internal: request ${m.id} arrived while ${active.id} runs` });
          return;
        }
        void run(m.id, m.request);
        return;
      case 'cancel':
        if (active?.id === m.id) active.cancelled = true;
        return;
      case 'closeFile':
        void loading.then((e) => e?.closeFile(m.fileKey));
        return;
      case 'shutdown':
        exit();
    }
  });
}
