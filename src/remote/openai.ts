// The OpenAI-compatible wire shapes a remote server speaks (`simsd serve`, SGLang, LMDeploy, vLLM-style servers):
// request bodies, server-sent events, and the two error shapes in use. Pure: strings and objects in and out.

/** One completion choice, as the non-streamed and the streamed responses carry it. */
export interface Choice {
  readonly text: string;                  // completions; chat uses message.content / delta.content
  readonly finishReason: string | null;
}

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** The text of the first choice of a response or a stream chunk (completions or chat), and its finish reason. */
export function firstChoice(body: unknown): Choice | null {
  const choices = isRecord(body) && Array.isArray(body.choices) ? body.choices : null;
  const c = choices?.[0];
  if (!isRecord(c)) return null;
  const message = isRecord(c.message) ? c.message : isRecord(c.delta) ? c.delta : null;
  const text = typeof c.text === 'string' ? c.text : typeof message?.content === 'string' ? message.content : '';
  return { text, finishReason: typeof c.finish_reason === 'string' ? c.finish_reason : null };
}

export function usageOf(body: unknown): Usage | null {
  const u = isRecord(body) && isRecord(body.usage) ? body.usage : null;
  if (u === null || typeof u.completion_tokens !== 'number') return null;
  return { promptTokens: typeof u.prompt_tokens === 'number' ? u.prompt_tokens : 0, completionTokens: u.completion_tokens };
}

/**
 * The message of an error body: OpenAI's `{"error": {"message", "type"}}` (also `simsd serve`, SGLang's router), or the
 * vLLM / LMDeploy / SGLang form `{"object": "error", "message", "type", "code"}`; else the raw text, shortened.
 */
export function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as unknown;
    if (isRecord(body)) {
      if (isRecord(body.error) && typeof body.error.message === 'string') return body.error.message;
      if (typeof body.message === 'string') return body.message;
      if (typeof body.detail === 'string') return body.detail;
    }
  } catch {
    // not JSON: the text itself (a proxy's HTML page, say)
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}

/**
 * Splits a server-sent-event stream into the JSON payloads of its `data:` lines, calling `onData` for each and
 * returning the unfinished tail. `data: [DONE]` ends the stream (`done` is called).
 */
export function feedEvents(buffer: string, onData: (payload: unknown) => void, done: () => void): string {
  let rest = buffer;
  let nl: number;
  while ((nl = rest.indexOf('\n')) >= 0) {
    const line = rest.slice(0, nl).replace(/\r$/, '');
    rest = rest.slice(nl + 1);
    if (!line.startsWith('data:')) continue; // comments (": keep-alive"), event names, blank separators
    const data = line.slice(5).trim();
    if (data === '[DONE]') { done(); continue; }
    if (data === '') continue;
    onData(JSON.parse(data));
  }
  return rest;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
