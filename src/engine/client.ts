// EngineClient: the extension host's side of the engine. It starts the engine (a worker thread for CPU, a child
// process for WebGPU, whose failures can abort a process), keeps the only queue (one active request, at most one
// waiting, latest wins by priority; or, for `simsd serve`, first in first out with a bounded wait list), turns
// requests into promises, and restarts an engine that died. It runs on the extension host's main thread, so it only
// posts messages and never imports onnxruntime or model code.
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import {
  PROTOCOL_VERSION, type EngineConfig, type EngineMessage, type EngineReady, type GenerationResult, type HostMessage,
  type ProviderChoice,
} from '../protocol/messages';
import { PRIORITY, type CancellationLike, type Request, type RequestKind } from '../protocol/request';

export interface ClientEvents {
  log(line: string): void;
  ready(ready: EngineReady): void;
  /** What the engine is doing while it loads (converting a checkpoint: 40 %). */
  loading?(detail: string): void;
  /** Reported once per failure (a crash, a load error); the client restarts a crashed engine itself. */
  failed(message: string, restarting: boolean): void;
}

export interface RequestOptions {
  readonly cancellation?: CancellationLike;
  /** The output so far, decoded, after every step that emitted tokens. */
  readonly onProgress?: (text: string) => void;
}

/**
 * How requests share the engine. `latest-wins` (the editor's): one active, at most one waiting, and a newer request
 * cancels the active one of equal or lower priority (a keystroke makes the previous one's answer useless).
 * `fifo` (the server's): requests run in arrival order, each to its end; at most `max` wait, and one more is refused
 * with a QueueFullError (the server's 429). Priorities play no part.
 */
export type QueuePolicy = { readonly kind: 'latest-wins' } | { readonly kind: 'fifo'; readonly max: number };

export interface ClientOptions {
  readonly queue?: QueuePolicy;           // default latest-wins
}

/** A FIFO client refused a request: `max` requests already wait. */
export class QueueFullError extends Error {
  constructor(readonly max: number) {
    super(`the queue is full (${max} requests waiting); retry later`);
    this.name = 'QueueFullError';
  }
}

/** The engine refused a request as asked (a prompt beyond the context, ids outside the vocabulary): the caller's error. */
export class EngineRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineRequestError';
  }
}

interface Pending {
  readonly id: number;
  readonly kind: RequestKind;
  readonly request: Request;
  readonly onProgress?: (text: string) => void;
  resolve(result: GenerationResult | null): void;
  reject(err: Error): void;
}

/** Restarts after consecutive crashes with no answered request in between; one more crash leaves the engine off. */
const MAX_RESTARTS = 3;

export class EngineClient {
  private transport: Transport | null = null;
  private active: Pending | null = null;   // sent to the engine
  private cancelling = false;              // a cancel for `active` is on its way
  private waiting: Pending[] = [];         // next to send, in order (latest wins: at most one)
  private nextId = 1;
  private crashesSinceAnswer = 0;
  private stopped = false;
  private readyInfo: EngineReady | null = null;
  private readonly queue: QueuePolicy;

  constructor(
    private readonly config: EngineConfig,
    private readonly provider: ProviderChoice,
    private readonly spawn: () => Transport,
    private readonly events: ClientEvents,
    options: ClientOptions = {},
  ) {
    this.queue = options.queue ?? { kind: 'latest-wins' };
  }

  get ready(): EngineReady | null {
    return this.readyInfo;
  }

  /** Requests waiting behind the active one. */
  get queueDepth(): number {
    return this.waiting.length;
  }

  /** A request is with the engine. */
  get inFlight(): boolean {
    return this.active !== null;
  }

  /** A FIFO client would refuse a request now (a caller that must answer before queueing checks this first). */
  get queueFull(): boolean {
    return this.queue.kind === 'fifo' && this.active !== null && this.waiting.length >= this.queue.max;
  }

  start(): void {
    this.stopped = false;
    this.readyInfo = null;
    const transport = this.spawn();
    this.transport = transport;
    transport.onMessage((m) => this.onMessage(m));
    transport.onExit((reason) => this.onExit(transport, reason));
    transport.post({ type: 'init', v: PROTOCOL_VERSION, config: this.config, provider: this.provider });
  }

  /**
   * Resolves with the result, or null when the request was cancelled or superseded. Latest wins: a request cancels
   * the active one when it is at least as important; a less important one waits behind it; a waiting request is
   * replaced by a newer one, unless the waiting one is more important. FIFO: it waits its turn, or is rejected with a
   * QueueFullError when the wait list is full; an engine error rejects it (EngineRequestError when the request was at
   * fault).
   */
  request(request: Request, options: RequestOptions = {}): Promise<GenerationResult | null> {
    if (this.stopped || this.transport === null) return Promise.resolve(null); // disposed or gave up: nothing will answer
    return new Promise<GenerationResult | null>((resolve, reject) => {
      const p: Pending = { id: this.nextId++, kind: request.kind, request, onProgress: options.onProgress, resolve, reject };
      if (this.active === null) {
        options.cancellation?.onCancellationRequested(() => this.cancel(p.id));
        return this.send(p);
      }
      if (this.queue.kind === 'fifo') {
        if (this.waiting.length >= this.queue.max) return reject(new QueueFullError(this.queue.max));
        options.cancellation?.onCancellationRequested(() => this.cancel(p.id));
        this.waiting.push(p);
        return;
      }
      options.cancellation?.onCancellationRequested(() => this.cancel(p.id));
      const waiting = this.waiting[0];
      if (waiting !== undefined && PRIORITY[waiting.kind] > PRIORITY[p.kind]) return resolve(null); // never displace a more important waiting request
      if (PRIORITY[p.kind] >= PRIORITY[this.active.kind]) this.cancelActive();
      waiting?.resolve(null);
      this.waiting = [p];
    });
  }

  closeFile(fileKey: string): void {
    this.transport?.post({ type: 'closeFile', fileKey });
  }

  async dispose(): Promise<void> {
    this.stopped = true;
    this.readyInfo = null;
    this.dropAll(null);
    const t = this.transport;
    this.transport = null;
    if (t) {
      t.post({ type: 'shutdown' });
      await t.terminate();
    }
  }

  private cancel(id: number): void {
    const at = this.waiting.findIndex((p) => p.id === id);
    if (at >= 0) {
      this.waiting.splice(at, 1)[0].resolve(null);
    } else if (this.active?.id === id) {
      this.cancelActive();
    }
  }

  private cancelActive(): void {
    if (this.active === null || this.cancelling) return;
    this.cancelling = true;
    this.transport?.post({ type: 'cancel', id: this.active.id });
  }

  private send(p: Pending): void {
    this.active = p;
    this.cancelling = false;
    this.transport?.post({ type: 'generate', id: p.id, request: p.request });
  }

  /** The engine answered the active request (done, cancelled or failed): settle it and send the waiting one. */
  private settle(id: number, how: (p: Pending) => void): void {
    const p = this.active;
    if (p === null || p.id !== id) return;
    this.active = null;
    how(p);
    const next = this.waiting.shift();
    if (next !== undefined) this.send(next);
  }

  /**
   * Settles every request: with null after dispose (error null); else the active one fails with `error`, and the
   * waiting ones settle as null (latest wins: they were only the next keystroke) or fail too (FIFO: each is owed an answer).
   */
  private dropAll(error: Error | null): void {
    if (this.active !== null) {
      if (error === null) this.active.resolve(null);
      else this.active.reject(error);
    }
    for (const p of this.waiting) {
      if (error !== null && this.queue.kind === 'fifo') p.reject(error);
      else p.resolve(null);
    }
    this.active = null;
    this.waiting = [];
    this.cancelling = false;
  }

  private onMessage(m: EngineMessage): void {
    switch (m.type) {
      case 'ready':
        this.readyInfo = m.ready;
        this.events.ready(m.ready);
        return;
      case 'log':
        this.events.log(m.line);
        return;
      case 'loading':
        this.events.loading?.(m.detail);
        return;
      case 'progress':
        if (this.active?.id === m.id) this.active.onProgress?.(m.text);
        return;
      case 'done':
        this.crashesSinceAnswer = 0;
        return this.settle(m.result.id, (p) => p.resolve(m.result));
      case 'cancelled':
        return this.settle(m.id, (p) => p.resolve(null));
      case 'error':
        if (m.id === null) return this.events.failed(m.message, false);
        return this.settle(m.id, (p) => p.reject(m.requestError === true ? new EngineRequestError(m.message) : new Error(m.message)));
    }
  }

  /**
   * The engine died: fail what was in flight, say so once, and restart unless it keeps dying. FIFO: the waiting
   * requests keep their places and go to the restarted engine (which takes them while it loads).
   */
  private onExit(transport: Transport, reason: string): void {
    if (transport !== this.transport || this.stopped) return;
    this.transport = null;
    this.readyInfo = null;
    this.crashesSinceAnswer++;
    const restarting = this.crashesSinceAnswer <= MAX_RESTARTS;
    const kept = restarting && this.queue.kind === 'fifo' ? this.waiting : [];
    if (kept.length > 0) this.waiting = [];
    this.dropAll(new Error(`the engine stopped (${reason})`));
    this.events.failed(`the engine stopped (${reason})${restarting ? '; restarting it' : '; it keeps failing, so it stays off until reload'}`, restarting);
    if (!restarting) return;
    this.start();
    this.waiting = kept;
    const next = this.waiting.shift();
    if (next !== undefined) this.send(next);
  }
}

/** How the client reaches the engine. */
export interface Transport {
  post(message: HostMessage): void;
  onMessage(listener: (message: EngineMessage) => void): void;
  /** Called once when the engine is gone for any reason other than terminate(). */
  onExit(listener: (reason: string) => void): void;
  terminate(): Promise<void>;
}

/** Reports the engine's end once, unless it was asked to end (terminate()). */
function exitReporter() {
  let listener: (reason: string) => void = () => undefined;
  let done = false;
  return {
    listen: (l: (reason: string) => void) => { listener = l; },
    report: (reason: string) => { if (!done) { done = true; listener(reason); } },
    terminating: () => { done = true; },
  };
}

/** The engine's home for a provider: a child process for WebGPU, a worker thread for the CPU. */
export function transportFor(provider: ProviderChoice, workerScript: string): Transport {
  return provider.executionProvider === 'webgpu' ? childTransport(workerScript) : workerTransport(workerScript);
}

/** A worker thread (CPU): it shares the process, so nothing it does blocks the host's event loop. */
export function workerTransport(workerScript: string): Transport {
  const worker = new Worker(workerScript, { argv: ['--engine'] });
  const exit = exitReporter();
  worker.on('error', (err) => exit.report(err.message));
  worker.on('exit', (code) => exit.report(`exit code ${code}`));
  return {
    post: (message) => worker.postMessage(message),
    onMessage: (listener) => worker.on('message', listener),
    onExit: exit.listen,
    terminate: async () => {
      exit.terminating();
      await worker.terminate();
    },
  };
}

/** A child process (WebGPU): a GPU driver failure takes only the child down. */
export function childTransport(workerScript: string): Transport {
  const child = fork(workerScript, ['--engine'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderrTail = (stderrTail + chunk.toString()).slice(-2000); });
  const exit = exitReporter();
  child.on('error', (err) => exit.report(err.message)); // spawn failure, or EPIPE from a dying child
  child.on('exit', (code, signal) => exit.report(`${signal ?? `exit code ${code}`}${stderrTail ? `: ${stderrTail.trim().split('\n').pop()}` : ''}`));
  return {
    post: (message) => { if (child.connected) child.send(message, (err) => { if (err) exit.report(err.message); }); },
    onMessage: (listener) => child.on('message', (m) => listener(m as EngineMessage)),
    onExit: exit.listen,
    terminate: async () => {
      exit.terminating();
      if (child.exitCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill();
        await gone;
      }
    },
  };
}
