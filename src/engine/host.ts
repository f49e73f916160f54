// EngineHost: owns the engine (a worker thread for CPU, a child process for WebGPU), turns requests into
// promises, applies the scheduler's decisions, and restarts the engine when it dies. Runs on the
// extension host's main thread, so it only posts messages and never imports onnxruntime.
import type { GenerateParams } from '../decode/params';
import type { ProviderChoice } from '../model/provider';
import { PROTOCOL_VERSION, type EngineConfig, type EngineMessage, type EngineReady, type GenerateMessage, type GenerationResult, type HostMessage, type PromptSpec, type RequestKind } from './protocol';
import { Scheduler, type SchedulerAction } from './scheduler';
import type { EngineTransport, TransportFactory } from './transport';

export interface EngineRequest {
  readonly kind: RequestKind;
  readonly fileKey: string;
  readonly prompt: PromptSpec;
  readonly params: GenerateParams;
  readonly stopAtNewline?: boolean;
  readonly onProgress?: (text: string) => void;
}

export interface HostEvents {
  log(line: string): void;
  ready(ready: EngineReady): void;
  /** Reported once per failure (a crash, a load error); the host restarts a crashed engine itself. */
  failed(message: string, restarting: boolean): void;
}

interface Pending {
  readonly message: GenerateMessage;
  readonly onProgress?: (text: string) => void;
  resolve(result: GenerationResult | null): void;
  reject(err: Error): void;
}

/** Consecutive crashes with no answered request in between after which the engine stays off. */
const MAX_RESTARTS = 3;

export class EngineHost {
  private transport: EngineTransport | null = null;
  private readonly scheduler = new Scheduler();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private crashesSinceAnswer = 0;
  private stopped = false;
  private readyInfo: EngineReady | null = null;

  constructor(
    private readonly config: EngineConfig,
    private readonly provider: ProviderChoice,
    private readonly spawn: TransportFactory,
    private readonly events: HostEvents,
  ) {}

  get ready(): EngineReady | null {
    return this.readyInfo;
  }

  get queueDepth(): number {
    return this.scheduler.queuedId === null ? 0 : 1;
  }

  start(): void {
    this.stopped = false;
    this.readyInfo = null;
    const transport = this.spawn();
    this.transport = transport;
    transport.onMessage((m) => this.onMessage(m));
    transport.onExit((reason) => this.onExit(transport, reason));
    this.post({ type: 'init', v: PROTOCOL_VERSION, config: this.config, provider: this.provider });
  }

  /** Resolves with the result, or null when the request was cancelled or superseded (latest wins). */
  request(req: EngineRequest, cancellation?: { onCancellationRequested(listener: () => void): unknown }): Promise<GenerationResult | null> {
    if (this.stopped || this.transport === null) return Promise.resolve(null); // disposed or gave up: nothing will answer
    const id = this.nextId++;
    const message: GenerateMessage = {
      type: 'generate', id, kind: req.kind, fileKey: req.fileKey, prompt: req.prompt, params: req.params,
      stopAtNewline: req.stopAtNewline ?? false,
    };
    const promise = new Promise<GenerationResult | null>((resolve, reject) => {
      this.pending.set(id, { message, onProgress: req.onProgress, resolve, reject });
    });
    cancellation?.onCancellationRequested(() => this.cancel(id));
    this.apply(this.scheduler.submit({ id, kind: req.kind }));
    return promise;
  }

  cancel(id: number): void {
    this.apply(this.scheduler.cancel(id));
  }

  closeFile(fileKey: string): void {
    this.post({ type: 'closeFile', fileKey });
  }

  async dispose(): Promise<void> {
    this.stopped = true;
    this.readyInfo = null;
    this.apply(this.scheduler.reset());
    const t = this.transport;
    this.transport = null;
    if (t) {
      t.post({ type: 'shutdown' });
      await t.terminate();
    }
  }

  private apply(actions: readonly SchedulerAction[]): void {
    for (const a of actions) {
      const p = this.pending.get(a.id);
      if (a.type === 'start' && p) this.post(p.message);
      if (a.type === 'cancel') this.post({ type: 'cancel', id: a.id });
      if (a.type === 'drop' && p) {
        this.pending.delete(a.id);
        p.resolve(null);
      }
    }
  }

  private post(message: HostMessage): void {
    this.transport?.post(message);
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
      case 'memory':
        return;
      case 'progress':
        this.pending.get(m.id)?.onProgress?.(m.text);
        return;
      case 'done':
        this.crashesSinceAnswer = 0;
        return this.settle(m.result.id, (p) => p.resolve(m.result));
      case 'cancelled':
        return this.settle(m.id, (p) => p.resolve(null));
      case 'error':
        if (m.id === null) {
          this.events.failed(m.message, false);
          return;
        }
        return this.settle(m.id, (p) => p.reject(new Error(m.message)));
    }
  }

  private settle(id: number, how: (p: Pending) => void): void {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (p) how(p);
    this.apply(this.scheduler.finished(id));
  }

  /** The engine died: fail what was in flight, say so once, and restart unless it keeps dying. */
  private onExit(transport: EngineTransport, reason: string): void {
    if (transport !== this.transport || this.stopped) return;
    this.transport = null;
    this.readyInfo = null;
    for (const id of [this.scheduler.activeId, this.scheduler.queuedId]) {
      const p = id === null ? undefined : this.pending.get(id);
      if (p && id !== null) {
        this.pending.delete(id);
        p.reject(new Error(`the engine stopped (${reason})`));
      }
    }
    this.scheduler.reset();
    this.crashesSinceAnswer++;
    const restarting = this.crashesSinceAnswer <= MAX_RESTARTS;
    this.events.failed(`the engine stopped (${reason})${restarting ? '; restarting it' : '; it keeps failing, so it stays off until reload'}`, restarting);
    if (restarting) this.start();
  }
}
