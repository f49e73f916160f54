// When to ask the engine: the adaptive debounce, mid-line gating and the multi-line decision (completion.md §3, §7).
// No clock inside: the caller passes keystroke times and measured response times, so every rule is a pure function
// of a small state record.
import { endsWithScopeOpener, isOnlyClosing, isOnlyClosingOrOpener } from './line-shape';

export type Device = 'gpu' | 'cpu';
export type MultilineSetting = 'auto' | 'always' | 'never';

/** The typing rhythm and engine speed the debounce adapts to. */
export interface TriggerTimings {
  readonly lastKeystrokeMs: number | null;
  /** Recent gaps between keystrokes, oldest first; at most MAX_GAPS. */
  readonly gapsMs: readonly number[];
  /** Recent keystroke → result times of engine calls, oldest first; at most MAX_RESPONSES. */
  readonly responsesMs: readonly number[];
}

export const INITIAL_TRIGGER_TIMINGS: TriggerTimings = { lastKeystrokeMs: null, gapsMs: [], responsesMs: [] };

/** Tabby `debouncer.ts` constants: the most recent gaps, used once it holds enough samples. */
const MAX_GAPS = 100;
const MIN_GAPS = 20;
const BASE_GAP_MS = 200;
const GAP_MIN_MS = 100;
const GAP_MAX_MS = 400;
/** A gap longer than this is a pause, not typing rhythm; Tabby keeps it, but one long pause then skews 100 samples. */
const PAUSE_MS = 1000;
const MAX_RESPONSES = 10;
/** Context factor: 3.0 with no hint that the user is done, down to 1.5 at a line end after a non-word character. */
const RATE_MAX = 3.0;
const RATE_MIN = 1.5;
const SCORE_NON_WORD_CHAR = 0.5;
const SCORE_LINE_END = 0.4;
const SCORE_DOCUMENT_END = 0.1;
/** Ours (completion.md §3.3): clamp to [floor, 600] with floor 0 on GPU and 50 on CPU. */
const DELAY_MAX_MS = 600;
const FLOOR_MS: Readonly<Record<Device, number>> = { gpu: 0, cpu: 50 };

export function recordKeystroke(timings: TriggerTimings, nowMs: number): TriggerTimings {
  const last = timings.lastKeystrokeMs;
  if (last === null || nowMs < last) return { ...timings, lastKeystrokeMs: nowMs };
  const gap = nowMs - last;
  const gapsMs = gap > PAUSE_MS ? timings.gapsMs : [...timings.gapsMs, gap].slice(-MAX_GAPS);
  return { ...timings, lastKeystrokeMs: nowMs, gapsMs };
}

/** Record one engine call's response time (keystroke → result, debounce excluded). */
export function recordResponse(timings: TriggerTimings, responseMs: number): TriggerTimings {
  return { ...timings, responsesMs: [...timings.responsesMs, Math.max(0, responseMs)].slice(-MAX_RESPONSES) };
}

export interface DebounceRequest {
  readonly manual: boolean;
  /** The suggestion cache can answer: show it at once. */
  readonly device: Device;
  readonly linePrefix: string;
  readonly lineSuffix: string;
  readonly reachesDocumentEnd: boolean;
}

/**
 * Milliseconds to wait before calling the engine (`completion.debounceMs`: 'auto' or a fixed number).
 * auto, after Tabby: base = mean keystroke gap clamped to 100–400 ms; × a context rate of 1.5–3.0 (shorter at a line
 * end, after a non-word character, at the document end); minus the mean response time, because a slow engine
 * should start sooner, not later; clamped to [floor, 600]. Manual triggers and suggestion-cache hits never wait.
 */
export function debounceMs(timings: TriggerTimings, request: DebounceRequest, setting: number | 'auto' = 'auto'): number {
  if (request.manual) return 0;
  if (setting !== 'auto') return Math.max(0, setting);
  const base = timings.gapsMs.length < MIN_GAPS ? BASE_GAP_MS : clamp(mean(timings.gapsMs), GAP_MIN_MS, GAP_MAX_MS);
  const rate = RATE_MAX - (RATE_MAX - RATE_MIN) * contextScore(request);
  const responseMs = timings.responsesMs.length === 0 ? 0 : mean(timings.responsesMs);
  return Math.round(clamp(base * rate - responseMs, FLOOR_MS[request.device], DELAY_MAX_MS));
}

/** 0..1: how sure we are that the user paused at a natural completion point. */
function contextScore(request: DebounceRequest): number {
  let score = 0;
  const lastChar = request.linePrefix.charAt(request.linePrefix.length - 1);
  if (lastChar !== '' && !/\w/.test(lastChar)) score += SCORE_NON_WORD_CHAR;
  if (request.lineSuffix.trim() === '') score += SCORE_LINE_END;
  if (request.reachesDocumentEnd && request.lineSuffix.trim() === '') score += SCORE_DOCUMENT_END;
  return score;
}

/**
 * Mid-line gating (Copilot's rule): no automatic trigger when more than `maxLineSuffix` characters sit right of
 * the cursor, unless they are only closing brackets, quotes or `; : , {`. Trailing whitespace does not count.
 * Manual triggers skip this check.
 */
export function allowsAutomaticTrigger(lineSuffix: string, maxLineSuffix = 8): boolean {
  const rest = lineSuffix.trimEnd();
  return rest.length <= maxLineSuffix || isOnlyClosingOrOpener(rest);
}

/**
 * Multi-line decision (completion.md §7). auto: multi-line when the rest of the line is only closing characters
 * AND the line left of the cursor is blank or ends with a scope opener `{ ( [ :` or `=>`. Otherwise single line.
 */
export function isMultiline(setting: MultilineSetting, linePrefix: string, lineSuffix: string): boolean {
  if (setting !== 'auto') return setting === 'always';
  return isOnlyClosing(lineSuffix) && (linePrefix.trim() === '' || endsWithScopeOpener(linePrefix));
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}
