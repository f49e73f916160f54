// Engine entry: `dist/worker.js`, run as a worker thread (CPU) or a child process (WebGPU), or with
// `--probe-webgpu` as a one-shot child that prints whether WebGPU works. It owns the sessions, the prefix
// caches and the decode loop; it posts back only text, ids and stats.
import { parentPort } from 'node:worker_threads';
import { CancelledError } from '../model/errors';
import { probeWebGpu } from '../model/provider';
import { Engine } from './engine';
import { PROTOCOL_VERSION, type EngineMessage, type GenerateMessage, type HostMessage } from './protocol';

type Post = (message: EngineMessage) => void;

function serve(post: Post, listen: (handler: (m: HostMessage) => void) => void, exit: () => void): void {
  let engine: Engine | null = null;
  let loading: Promise<void> | null = null;
  const cancelled = new Set<number>();
  const queue: GenerateMessage[] = [];
  let running = false;
  let runningId: number | null = null;
  const log = (line: string) => post({ type: 'log', line });

  async function drain(): Promise<void> {
    if (running) return;
    running = true;
    while (queue.length > 0) {
      const message = queue.shift() as GenerateMessage;
      runningId = message.id;
      await loading;
      const signal = { get cancelled() { return cancelled.has(message.id); } };
      try {
        if (engine === null) throw new Error('the engine failed to load; see the log');
        if (signal.cancelled) throw new CancelledError();
        const result = await engine.run(message, signal);
        post(result.finishReason === 'cancelled' ? { type: 'cancelled', id: message.id } : { type: 'done', result });
        post({ type: 'memory', ...engine.memory });
      } catch (err) {
        if (err instanceof CancelledError) post({ type: 'cancelled', id: message.id });
        else post({ type: 'error', id: message.id, message: (err as Error).message, fatal: false });
      } finally {
        cancelled.delete(message.id);
        runningId = null;
      }
    }
    running = false;
  }

  listen((m) => {
    switch (m.type) {
      case 'init':
        if (m.v !== PROTOCOL_VERSION) {
          post({ type: 'error', id: null, message: `protocol v${m.v} but the engine speaks v${PROTOCOL_VERSION}`, fatal: true });
          return;
        }
        loading = Engine.load(m.config, m.provider, { log, progress: (id, text) => post({ type: 'progress', id, text }) }).then(
          (e) => { engine = e; post({ type: 'ready', v: PROTOCOL_VERSION, ready: e.ready }); },
          (err: Error) => post({ type: 'error', id: null, message: `loading the models failed: ${err.message}`, fatal: true }),
        );
        return;
      case 'generate':
        queue.push(m);
        void drain();
        return;
      case 'cancel':
        // A cancel can cross the answer on its way; remember it only while the request is still here.
        if (m.id === runningId || queue.some((q) => q.id === m.id)) cancelled.add(m.id);
        return;
      case 'closeFile':
        engine?.closeFile(m.fileKey);
        return;
      case 'shutdown':
        exit();
    }
  });
}

if (process.argv.includes('--probe-webgpu')) {
  void probeWebGpu().then((reason) => {
    process.stdout.write(JSON.stringify({ ok: reason === null, reason }) + '\n');
    process.exit(0);
  });
} else if (parentPort) {
  const port = parentPort;
  serve((m) => port.postMessage(m), (h) => port.on('message', h), () => port.close());
} else if (process.send) {
  const send = process.send.bind(process);
  serve((m) => send(m), (h) => process.on('message', (m) => h(m as HostMessage)), () => process.exit(0));
}
