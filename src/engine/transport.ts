// How the host reaches the engine: a worker thread (CPU; shares the process, so nothing it does blocks the
// host's event loop) or a child process (WebGPU, whose failure modes can abort a process: onnxruntime.md §9).
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import type { EngineMessage, HostMessage } from './protocol';

export interface EngineTransport {
  post(message: HostMessage): void;
  onMessage(listener: (message: EngineMessage) => void): void;
  /** Called once when the engine is gone for any reason other than terminate(). */
  onExit(listener: (reason: string) => void): void;
  terminate(): Promise<void>;
}

export type TransportFactory = () => EngineTransport;

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

export function workerTransport(workerScript: string): EngineTransport {
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

export function childTransport(workerScript: string): EngineTransport {
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
