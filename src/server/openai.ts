// The OpenAI answer shapes `simsd serve` sends (completions and chat, whole and streamed), the stop-string cut of
// the text, and the streamed deltas. Pure: text and numbers in, plain objects out.
import { randomBytes } from 'node:crypto';
import type { Endpoint, PromptLayout } from './validate';

export type OpenAiFinish = 'stop' | 'length';

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export function usage(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** What every object of one answer shares: its id, creation time, model and fingerprint. */
export interface AnswerHead {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly system_fingerprint: string;
}

/** `system_fingerprint` names the prompt layout, so a client can see that its `suffix` was not used (prefix-only). */
export function answerHead(endpoint: Endpoint, model: string, layout: PromptLayout): AnswerHead {
  const id = `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
  return { id, created: Math.floor(Date.now() / 1000), model, system_fingerprint: `simsd:${layout}` };
}

export function completionAnswer(endpoint: Endpoint, head: AnswerHead, text: string, finish: OpenAiFinish, counts: Usage): object {
  const choice = endpoint === 'chat'
    ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: finish }
    : { index: 0, text, logprobs: null, finish_reason: finish };
  return { ...head, object: endpoint === 'chat' ? 'chat.completion' : 'text_completion', choices: [choice], usage: counts };
}

/**
 * One streamed chunk: a delta of text (chat's first chunk also says the role), or with `finish` the last chunk,
 * whose text is empty and which carries the usage.
 */
export function completionChunk(endpoint: Endpoint, head: AnswerHead, delta: string, finish: OpenAiFinish | null = null, counts?: Usage, first = false): object {
  const choice = endpoint === 'chat'
    ? { index: 0, delta: finish !== null ? {} : first ? { role: 'assistant', content: delta } : { content: delta }, logprobs: null, finish_reason: finish }
    : { index: 0, text: delta, logprobs: null, finish_reason: finish };
  return { ...head, object: endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', choices: [choice], ...(counts ? { usage: counts } : {}) };
}

/** The text up to the first stop string (OpenAI leaves the stop string out), and whether one was found. */
export function cutAtStop(text: string, stops: readonly string[]): { readonly text: string; readonly stopped: boolean } {
  let at = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? { text, stopped: false } : { text: text.slice(0, at), stopped: true };
}

/**
 * The streamed text: given the output so far (the engine's progress, decoded), the part not sent yet. It holds back
 * what may still change: an unfinished character at the end (a multi-byte character split over tokens decodes to
 * U+FFFD until its last byte comes) and an end that may be the start of a stop string. `finish` sends the rest.
 * The concatenated deltas are the non-streamed answer's text.
 */
export class StreamedText {
  private sent = '';

  constructor(private readonly stops: readonly string[]) {}

  get text(): string {
    return this.sent;
  }

  next(output: string): string {
    const cut = cutAtStop(output, this.stops);
    return this.advance(cut.stopped ? cut.text : output.slice(0, output.length - this.heldBack(output)));
  }

  finish(output: string): string {
    return this.advance(cutAtStop(output, this.stops).text);
  }

  private advance(visible: string): string {
    // The decoded text of more tokens extends that of fewer, but for the held-back tail; anything else is not sent.
    if (visible.length <= this.sent.length || !visible.startsWith(this.sent)) return '';
    const delta = visible.slice(this.sent.length);
    this.sent = visible;
    return delta;
  }

  private heldBack(output: string): number {
    let end = output.length;
    while (end > 0 && output[end - 1] === '\uFFFD') end--;
    let held = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, end); n > held; n--) {
        if (output.endsWith(s.slice(0, n), end)) { held = n; break; }
      }
    }
    return output.length - end + held;
  }
}
