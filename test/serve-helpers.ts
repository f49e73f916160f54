// Helpers for the `simsd serve` tests and the load tool: spawn `node dist/cli.js serve … --port 0 --json` and read its
// listening line, plain HTTP requests, streamed completions read event by event (optionally abandoned mid-stream),
// a metric from /metrics, and the bounded load run (test/engine/serve-load.test.ts, test/tools/serve-load.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { resolve } from 'node:path';

export const CLI = resolve('dist/cli.js');

export interface Listening {
  readonly url: string;            // …/v1
  readonly port: number;
  readonly model: string;
  readonly contextTokens: number;
  readonly fim: boolean;
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly listening: Listening;
  readonly base: string;           // http://127.0.0.1:PORT
  /** Sends `signal` and resolves when the process has exited (SIGKILL after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Spawns the server and waits for its `{"listening": …}` line (rejects with its stderr when it exits first). */
export function spawnServe(args: readonly string[], timeoutMs = 90_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolveServe, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no listening line within ${timeoutMs} ms: ${stderr}`)); }, timeoutMs);
    let listened = false;
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (listened || !stdout.includes('\n')) return;
      listened = true;
      const line = stdout.split('\n')[0];
      clearTimeout(timer);
      const listening = (JSON.parse(line) as { listening: Listening }).listening;
      resolveServe({
        child, listening, base: listening.url.replace(/\/v1$/, ''),
        stop: async (signal = 'SIGTERM', killAfterMs = 20_000) => {
          if (child.exitCode === null) child.kill(signal);
          const kill = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          const code = await exited;
          clearTimeout(kill);
          return { code, stdout, stderr };
        },
      });
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`serve exited (${code}) before listening: ${stderr}`)); });
  });
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly body: any;              // parsed JSON, or null
}

/** One request; `body` an object (sent as JSON) or a raw string/Buffer. */
export function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return new Promise((done, fail) => {
    const req = httpRequest(`${base}${path}`, { method, headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = null;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        done({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(payload);
  });
}

export interface StreamResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly events: any[];          // parsed `data:` payloads, [DONE] excluded
  readonly done: boolean;          // `data: [DONE]` came
  readonly text: string;           // the deltas joined (completions `text`, chat `delta.content`)
  readonly abandoned: boolean;
}

/** A streamed request read event by event; with `abandonAfter`, the socket is destroyed after that many events. */
export function stream(base: string, path: string, body: object, options: { abandonAfter?: number; headers?: Record<string, string> } = {}): Promise<StreamResult> {
  return new Promise((done, fail) => {
    const events: unknown[] = [];
    let finished = false;
    let text = '';
    const req = httpRequest(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...options.headers }, agent: false }, (res) => {
      let buffer = '';
      const result = (abandoned: boolean): StreamResult => ({ status: res.statusCode ?? 0, headers: res.headers, events, done: finished, text, abandoned });
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of block.split('\n')) {
            if (!line.startsWith('data: ')) continue;
            const data = line.slice(6);
            if (data === '[DONE]') { finished = true; continue; }
            const payload = JSON.parse(data) as { choices?: { text?: string; delta?: { content?: string } }[] };
            events.push(payload);
            const c = payload.choices?.[0];
            text += c?.text ?? c?.delta?.content ?? '';
          }
        }
        if (options.abandonAfter !== undefined && events.length >= options.abandonAfter && !finished) {
          req.destroy();
          done(result(true));
        }
      });
      res.on('end', () => done(result(false)));
      res.on('error', () => done(result(true)));
    });
    req.on('error', (err) => { if (!req.destroyed || events.length === 0) fail(err); });
    req.end(JSON.stringify({ ...body, stream: true }));
  });
}

/** A sample's value from /metrics (labels written as in the exposition, e.g. `{endpoint="/health",status="200"}`). */
export async function metric(base: string, sample: string, headers: Record<string, string> = {}): Promise<number> {
  const text = (await call(base, 'GET', '/metrics', undefined, headers)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/** Prompts of the load runs: code openings of several kinds, distinct from their first characters. */
export const LOAD_PROMPTS = [
  'def fibonacci(n):', 'import os\nimport sys\n\ndef main():', 'class Stack:\n    def __init__(self):', 'for i in range(10):',
  'function add(a, b) {', '# Read a CSV file\nimport csv\n', 'const express = require("express");', 'public static void main(String[] args) {',
  'SELECT name, age FROM', 'def quicksort(arr):',
];

export interface LoadFigures {
  readonly clients: number;
  readonly abandoned: number;
  readonly completed: number;
  readonly mismatches: number;       // completed streams whose text differs from the sequential answer
  readonly wallMs: number;
  readonly tokensPerS: number;       // completion tokens of completed streams / wall time
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly rssBeforeMb: number;
  readonly rssAfterMb: number;
  readonly cancelled: number;        // generations the server cancelled during the run
}

/**
 * `clients` streaming clients at once, every `abandonEvery`-th one destroying its socket after its first event; each
 * other answer must equal the sequential (non-streamed) answer of its prompt, asked first.
 */
export async function serveLoad(base: string, model: string, options: { clients: number; abandonEvery: number; maxTokens: number; headers?: Record<string, string> }): Promise<LoadFigures> {
  const body = (prompt: string) => ({ model, prompt, max_tokens: options.maxTokens, temperature: 0 });
  const sequential = new Map<string, string>();
  for (const p of LOAD_PROMPTS) sequential.set(p, (await call(base, 'POST', '/v1/completions', body(p), options.headers)).body.choices[0].text);
  const rssBefore = await metric(base, 'process_resident_memory_bytes', options.headers);
  const cancelledBefore = await metric(base, 'simsd_generations_cancelled_total', options.headers);
  const started = performance.now();
  const runs = Array.from({ length: options.clients }, async (_, i) => {
    const prompt = LOAD_PROMPTS[i % LOAD_PROMPTS.length];
    const abandon = (i + 1) % options.abandonEvery === 0;
    const t0 = performance.now();
    const r = await stream(base, '/v1/completions', body(prompt), { abandonAfter: abandon ? 1 : undefined, headers: options.headers });
    const last = r.events.at(-1) as { usage?: { completion_tokens: number } } | undefined;
    return { abandon, ok: !abandon && r.status === 200 && r.done && r.text === sequential.get(prompt), ms: performance.now() - t0, tokens: last?.usage?.completion_tokens ?? 0 };
  });
  const results = await Promise.all(runs);
  const wallMs = performance.now() - started;
  const completed = results.filter((r) => !r.abandon);
  const times = completed.map((r) => r.ms).sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
  return {
    clients: options.clients, abandoned: results.length - completed.length, completed: completed.length,
    mismatches: completed.filter((r) => !r.ok).length, wallMs: Math.round(wallMs),
    tokensPerS: Math.round((1000 * completed.reduce((n, r) => n + r.tokens, 0)) / wallMs), p50Ms: Math.round(at(0.5)), p95Ms: Math.round(at(0.95)),
    rssBeforeMb: Math.round(rssBefore / 2 ** 20), rssAfterMb: Math.round((await metric(base, 'process_resident_memory_bytes', options.headers)) / 2 ** 20),
    cancelled: (await metric(base, 'simsd_generations_cancelled_total', options.headers)) - cancelledBefore,
  };
}
