// One keystroke, editor-free: suggestion cache first (zero-call paths), then gating and the adaptive debounce,
// then one engine request, then post-processing. The VS Code provider and the trace bench both drive this, so
// what the bench measures is what the editor runs. Only sync work happens on the caller's thread.
import type { GenerateParams } from '../decode/params';
import type { EngineRequest } from '../engine/host';
import type { GenerationResult } from '../engine/protocol';
import { buildWindows, type ContextWindows, type CursorPosition, type DocumentSnapshot } from './context';
import { postprocess, postprocessContext } from './postprocess/index';
import type { PromptLayout } from './prompt';
import type { RingChunk } from './ring-chunks';
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
  readonly decode: Omit<GenerateParams, 'maxTokens'>;
  readonly stopStrings?: readonly string[];
  readonly specialTokens?: readonly string[];
}

/** What the engine side of a completion needs; EngineHost implements it. */
export interface CompletionEngine {
  request(req: EngineRequest, cancellation?: CancellationLike): Promise<GenerationResult | null>;
}

export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): unknown;
}

export type CompletionSource = SuggestionSource | 'model';

export interface CompletionOutcome {
  readonly text: string | null;               // null: the model answered but post-processing discarded it
  readonly source: CompletionSource;
  readonly result: GenerationResult | null;   // null for zero-call answers
  readonly syncMs: number;                    // time spent on the caller's thread
}

/** Prefix windows start on multiples of this many lines, so moving the cursor rarely moves the prompt's head. */
const PREFIX_ANCHOR_LINES = 32;

export class CompletionService {
  private timings: TriggerTimings = INITIAL_TRIGGER_TIMINGS;
  readonly suggestions = new SuggestionCache();
  private ring: readonly RingChunk[] = [];

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

  setRing(ring: readonly RingChunk[]): void {
    this.ring = ring;
  }

  /** The windows of a request: the prefix start is anchored so that it moves in steps, not with every line. */
  windowsFor(doc: DocumentSnapshot, cursor: CursorPosition): ContextWindows {
    const first = Math.max(0, Math.floor((cursor.line - this.settings.prefixLines) / PREFIX_ANCHOR_LINES) * PREFIX_ANCHOR_LINES);
    return buildWindows(doc, cursor, { prefixLines: cursor.line - first, suffixLines: this.settings.suffixLines });
  }

  /**
   * The engine request for a position: the same prompt a completion there would send. With kind 'warmup' and
   * no tokens it only prefills, so that after a cursor move the first keystroke re-prefills little (completion.md §2).
   */
  request(doc: DocumentSnapshot, cursor: CursorPosition, kind: 'completion' | 'warmup', maxTokens: number, multiline: boolean,
    windows = this.windowsFor(doc, cursor)): EngineRequest {
    return {
      kind, fileKey: doc.uri, stopAtNewline: !multiline,
      prompt: {
        kind: 'completion', windows, ring: this.ring, outputReserve: this.settings.maxTokens,
        options: { maxPromptTokens: this.settings.maxPromptTokens, layout: this.settings.layout },
      },
      params: { ...this.settings.decode, maxTokens },
    };
  }

  async complete(doc: DocumentSnapshot, cursor: CursorPosition, manual: boolean, cancel: CancellationLike): Promise<CompletionOutcome | null> {
    let syncStart = this.clock.now();
    if (!manual) this.timings = recordKeystroke(this.timings, syncStart);
    const windows = this.windowsFor(doc, cursor);
    const hit = this.suggestions.lookup(windows);
    if (hit) {
      this.suggestions.markShown(windows, hit.completion);
      return { text: hit.completion, source: hit.source, result: null, syncMs: this.clock.now() - syncStart };
    }
    if (!manual && !allowsAutomaticTrigger(windows.lineSuffix, this.settings.maxLineSuffix)) return null;
    const multiline = isMultiline(this.settings.multiline, windows.linePrefix, windows.lineSuffix);
    const wait = debounceMs(this.timings, {
      manual, suggestionCacheHit: false, device: this.device(), linePrefix: windows.linePrefix,
      lineSuffix: windows.lineSuffix, reachesDocumentEnd: windows.reachesDocumentEnd,
    }, this.settings.debounceMs);
    let syncMs = this.clock.now() - syncStart;
    if (wait > 0 && !(await this.sleep(wait, cancel))) return null;
    if (cancel.isCancellationRequested) return null;

    const requested = this.clock.now();
    const result = await this.engine.request(this.request(doc, cursor, 'completion', this.settings.maxTokens, multiline, windows), cancel);
    if (result === null || cancel.isCancellationRequested) return null;
    syncStart = this.clock.now();
    this.timings = recordResponse(this.timings, syncStart - requested);
    const text = postprocess(result.text, postprocessContext(windows, {
      multiline, maxLines: this.settings.maxLines, stopStrings: this.settings.stopStrings, specialTokens: this.settings.specialTokens,
    }));
    if (text !== null) {
      this.suggestions.store(windows, text);
      this.suggestions.markShown(windows, text);
    }
    syncMs += this.clock.now() - syncStart;
    return { text, source: 'model', result, syncMs };
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
