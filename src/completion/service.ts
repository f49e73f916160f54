// One keystroke, editor-free: the zero-call paths first (the suggestion cache, then the completion still being
// generated for an earlier keystroke that this one typed along), then gating and the adaptive debounce, then one
// engine request, then post-processing. The VS Code provider and the trace bench both drive this, so what the bench
// measures is what the editor runs. Only synchronous work happens on the caller's thread.
import type { GenerationResult } from '../protocol/messages';
import type { CancellationLike, CursorContext, CursorPosition, GenerateParams, PromptLayout, Request, RingChunk } from '../protocol/request';
import { buildCursorContext, textAfterCursor, textBeforeCursor, type DocumentSnapshot } from './context';
import { postprocess, postprocessContext } from './postprocess/index';
import { ringChunksForRequest } from './ring-chunks';
import { SuggestionCache, type SuggestionSource } from './suggestions';
import {
  allowsAutomaticTrigger, debounceMs, INITIAL_TRIGGER_TIMINGS, isMultiline, recordKeystroke, recordResponse,
  type Device, type MultilineSetting, type TriggerTimings,
} from './trigger';

/** The `simsd.completion.*` settings the service reads (the extension adds `auto` and `fim`). */
export interface CompletionLimits {
  readonly prefixLines: number;
  readonly suffixLines: number;
  readonly maxPromptTokens: number;
  readonly maxTokens: number;
  readonly multiline: MultilineSetting;
  readonly maxLines: number;
  readonly maxLineSuffix: number;
  readonly debounceMs: number | 'auto';
}

export interface CompletionSettings extends CompletionLimits {
  readonly layout: PromptLayout;          // 'fim' when enabled and the model supports it
  readonly decode: Omit<GenerateParams, 'maxTokens' | 'stopAtLineEnd'>;
  readonly stopStrings?: readonly string[];
  readonly specialTokens?: readonly string[];
}

/** What the engine side of a completion needs; EngineClient implements it. */
export interface CompletionEngine {
  request(request: Request, options?: { cancellation?: CancellationLike; onProgress?: (text: string) => void }): Promise<GenerationResult | null>;
}

export type CompletionSource = SuggestionSource | 'stream' | 'model';

export interface CompletionOutcome {
  readonly text: string | null;               // null: the model answered but post-processing discarded it
  readonly source: CompletionSource;
  readonly result: GenerationResult | null;   // the engine's answer when this keystroke made the model call
  readonly syncMs: number;                    // time spent on the caller's thread
}

/** Prefix lines start on multiples of this many lines, so moving the cursor rarely moves the prompt's head. */
const PREFIX_ANCHOR_LINES = 32;
/** An abandoned generation (its keystroke was typed over) keeps running this long for a later keystroke to adopt. */
const ADOPT_GRACE_MS = 300;

/** The generation of the latest model call, kept past its caller so that typing along it can be served from it. */
interface InFlight {
  readonly context: CursorContext;
  readonly before: string;                    // the text before the cursor it was asked for
  readonly after: string;                     // … and after it
  readonly multiline: boolean;
  readonly result: Promise<GenerationResult | null>;
  text: string;                               // the raw output so far (progress), then the final text
  done: boolean;
  shown?: string | null;                      // the final text post-processed for `context` (null: discarded)
  waiters: number;                            // callers still waiting for it
  grace?: ReturnType<typeof setTimeout>;      // set while nobody waits: cancels it unless a keystroke adopts it
  readonly cancel: Canceller;
}

export class CompletionService {
  private timings: TriggerTimings = INITIAL_TRIGGER_TIMINGS;
  readonly suggestions = new SuggestionCache();
  private ring: readonly RingChunk[] = [];
  /**
   * The ring chunks sent for a file, chosen again only when the ring changes or the prefix anchor moves: they open the
   * prompt, so choosing them per keystroke (their similarity to the context drifts as lines are typed) would make a
   * whole-prompt re-prefill of what should be a one-line change.
   */
  private ringChoice: { ring: readonly RingChunk[]; uri: string; firstLine: number; chunks: readonly RingChunk[] } | null = null;
  private inFlight: InFlight | null = null;

  constructor(
    private readonly engine: CompletionEngine,
    private settings: CompletionSettings,
    private readonly device: () => Device,
    private readonly clock: { now(): number } = performance,
    private readonly sleep: (ms: number, cancel: CancellationLike) => Promise<boolean> = cancellableSleep,
  ) {}

  updateSettings(settings: CompletionSettings): void {
    this.settings = settings;
  }

  /** Recently seen code from other places (extension/ring.ts collects it); sent ahead of the prompt. */
  setRing(ring: readonly RingChunk[]): void {
    this.ring = ring;
  }

  /** The context of a request: the prefix start is anchored so that it moves in steps, not with every line. */
  contextFor(doc: DocumentSnapshot, cursor: CursorPosition): CursorContext {
    const first = Math.max(0, Math.floor((cursor.line - this.settings.prefixLines) / PREFIX_ANCHOR_LINES) * PREFIX_ANCHOR_LINES);
    return buildCursorContext(doc, cursor, { prefixLines: cursor.line - first, suffixLines: this.settings.suffixLines });
  }

  /**
   * The engine request for a position: the same prompt a completion there would send. With kind 'warmup' and
   * no tokens it only prefills, so that after a cursor move the first keystroke re-prefills little.
   */
  request(doc: DocumentSnapshot, cursor: CursorPosition, kind: 'completion' | 'warmup', maxTokens: number, multiline: boolean,
    context = this.contextFor(doc, cursor)): Request {
    return {
      kind, fileKey: doc.uri,
      prompt: {
        kind: 'completion', context, ring: this.ringFor(context), outputReserve: this.settings.maxTokens,
        options: { maxPromptTokens: this.settings.maxPromptTokens, layout: this.settings.layout },
      },
      params: { ...this.settings.decode, maxTokens, stopAtLineEnd: !multiline },
    };
  }

  private ringFor(context: CursorContext): readonly RingChunk[] {
    const c = this.ringChoice;
    if (c !== null && c.ring === this.ring && c.uri === context.uri && c.firstLine === context.firstLine) return c.chunks;
    const chunks = ringChunksForRequest(this.ring, context);
    this.ringChoice = { ring: this.ring, uri: context.uri, firstLine: context.firstLine, chunks };
    return chunks;
  }

  async complete(doc: DocumentSnapshot, cursor: CursorPosition, manual: boolean, cancel: CancellationLike): Promise<CompletionOutcome | null> {
    let syncStart = this.clock.now();
    if (!manual) this.timings = recordKeystroke(this.timings, syncStart);
    const context = this.contextFor(doc, cursor);
    const hit = this.suggestions.lookup(context);
    if (hit) {
      this.suggestions.markShown(context, hit.completion);
      return { text: hit.completion, source: hit.source, result: null, syncMs: this.clock.now() - syncStart };
    }
    if (!manual && !allowsAutomaticTrigger(context.lineSuffix, this.settings.maxLineSuffix)) return null;
    const multiline = isMultiline(this.settings.multiline, context.linePrefix, context.lineSuffix);
    const adopted = this.adopt(context, multiline);
    if (adopted !== null) {
      const served = await this.serveAdopted(adopted, context, multiline, cancel, this.clock.now() - syncStart);
      if (served !== null || cancel.isCancellationRequested) return served;
      syncStart = this.clock.now(); // the generation went elsewhere than what was typed: ask the model
    }
    const wait = debounceMs(this.timings, {
      manual, device: this.device(), linePrefix: context.linePrefix,
      lineSuffix: context.lineSuffix, reachesDocumentEnd: context.reachesDocumentEnd,
    }, this.settings.debounceMs);
    let syncMs = this.clock.now() - syncStart;
    if (wait > 0 && !(await this.sleep(wait, cancel))) return null;
    if (cancel.isCancellationRequested) return null;

    const flight = this.start(doc, context, multiline);
    const result = await this.await(flight, cancel);
    if (result === null || cancel.isCancellationRequested) return null;
    syncStart = this.clock.now();
    const text = flight.shown ?? null; // post-processed by start() when the result came
    if (text !== null) this.suggestions.markShown(context, text);
    syncMs += this.clock.now() - syncStart;
    return { text, source: 'model', result, syncMs };
  }

  /**
   * Sends the engine request and keeps its generation as the in-flight one. Its result is stored in the suggestion
   * cache when it arrives, whether or not the keystroke that asked for it is still waiting. The engine request is
   * cancelled only when a later one replaces it (the client's latest-wins) or when nobody adopted it in time.
   */
  private start(doc: DocumentSnapshot, context: CursorContext, multiline: boolean): InFlight {
    const requested = this.clock.now();
    const cancel = new Canceller();
    this.inFlight?.cancel.cancel(); // replaced: its keystroke was typed over by one it could not serve
    const flight: InFlight = {
      context, before: textBeforeCursor(context), after: textAfterCursor(context), multiline, text: '', done: false, waiters: 0, cancel,
      result: this.engine.request(this.request(doc, context.cursor, 'completion', this.settings.maxTokens, multiline, context), {
        cancellation: cancel, onProgress: (text) => { flight.text = text; },
      }),
    };
    this.inFlight = flight;
    void flight.result.then((result) => {
      flight.done = true;
      if (result === null) return;
      flight.text = result.text;
      this.timings = recordResponse(this.timings, this.clock.now() - requested);
      flight.shown = postprocess(result.text, this.postprocessFor(context, multiline));
      if (flight.shown !== null) this.suggestions.store(context, flight.shown);
    }, () => { flight.done = true; });
    return flight;
  }

  /**
   * Waits for a generation on behalf of one keystroke. When the last waiter gives up, the generation has
   * ADOPT_GRACE_MS to be adopted by a later keystroke; then it is cancelled. One timer per generation, restarted on
   * every last drop and cleared by an adoption.
   */
  private async await(flight: InFlight, cancel: CancellationLike): Promise<GenerationResult | null> {
    flight.waiters++;
    clearTimeout(flight.grace);
    flight.grace = undefined;
    cancel.onCancellationRequested(() => {
      flight.waiters--;
      if (flight.waiters > 0 || flight.done) return;
      clearTimeout(flight.grace);
      flight.grace = setTimeout(() => { if (flight.waiters === 0) flight.cancel.cancel(); }, ADOPT_GRACE_MS);
    });
    return flight.result;
  }

  /**
   * The in-flight generation, when this keystroke only typed along it: same file and text after the cursor, the text
   * before the cursor grown by `typed`, and the output streamed so far already holding `typed` and more (a keystroke
   * never waits on a generation that may go elsewhere: it asks the model instead, which replaces that generation).
   */
  private adopt(context: CursorContext, multiline: boolean): { flight: InFlight; typed: string } | null {
    const flight = this.inFlight;
    if (flight === null || flight.cancel.isCancellationRequested || flight.multiline !== multiline || flight.context.uri !== context.uri) return null;
    if (flight.text.length === 0 || flight.after !== textAfterCursor(context)) return null;
    const before = textBeforeCursor(context);
    if (before.length <= flight.before.length || !before.startsWith(flight.before)) return null;
    const typed = before.slice(flight.before.length);
    return flight.text.length > typed.length && flight.text.startsWith(typed) ? { flight, typed } : null;
  }

  /** The adopted generation's rest after what was typed; null when it ended elsewhere (or was cancelled). */
  private async serveAdopted(
    adopted: { flight: InFlight; typed: string }, context: CursorContext, multiline: boolean, cancel: CancellationLike, syncMs: number,
  ): Promise<CompletionOutcome | null> {
    const result = await this.await(adopted.flight, cancel);
    if (result === null || cancel.isCancellationRequested || !result.text.startsWith(adopted.typed)) return null;
    const started = this.clock.now();
    const text = postprocess(result.text.slice(adopted.typed.length), this.postprocessFor(context, multiline));
    if (text !== null) {
      this.suggestions.store(context, text);
      this.suggestions.markShown(context, text);
    }
    return { text, source: 'stream', result: null, syncMs: syncMs + this.clock.now() - started };
  }

  private postprocessFor(context: CursorContext, multiline: boolean) {
    return postprocessContext(context, {
      multiline, maxLines: this.settings.maxLines, stopStrings: this.settings.stopStrings, specialTokens: this.settings.specialTokens,
    });
  }
}

/** A cancellation the service owns (the engine request outlives the keystroke that started it). */
class Canceller implements CancellationLike {
  isCancellationRequested = false;
  private readonly listeners: (() => void)[] = [];

  onCancellationRequested(listener: () => void): void {
    this.listeners.push(listener);
  }

  cancel(): void {
    if (this.isCancellationRequested) return;
    this.isCancellationRequested = true;
    for (const l of this.listeners) l();
  }
}

/** Resolves true after `ms`, or false as soon as `cancel` fires (the next keystroke cancels, never queues). */
function cancellableSleep(ms: number, cancel: CancellationLike): Promise<boolean> {
  return new Promise((resolve) => {
    if (cancel.isCancellationRequested) return resolve(false);
    const timer = setTimeout(() => resolve(true), ms);
    cancel.onCancellationRequested(() => { clearTimeout(timer); resolve(false); });
  });
}
