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

export function workerTransport(workerScript: string): EngineTransport {
  const worker = new Worker(workerScript, { argv: ['--engine'] });
  let terminating = false;
  let exitListener: (reason: string) => void = () => undefined;
  let reported = false;
  const report = (reason: string) => {
    if (terminating || reported) return;
    reported = true;
    exitListener(reason);
  };
  worker.on('error', (err) => report(err.message));
  worker.on('exit', (code) => report(`exit code ${code}`));
  return {
    post: (message) => worker.postMessage(message),
    onMessage: (listener) => worker.on('message', listener),
    onExit: (listener) => { exitListener = listener; },
    terminate: async () => {
      terminating = true;
      await worker.terminate();
    },
  };
}

export function childTransport(workerScript: string): EngineTransport {
  const child = fork(workerScript, ['--engine'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let terminating = false;
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderrTail = (stderrTail + chunk.toString()).slice(-2000); });
  let exitListener: (reason: string) => void = () => undefined;
  let reported = false;
  const report = (reason: string) => {
    if (terminating || reported) return;
    reported = true;
    exitListener(reason);
  };
  child.on('error', (err) => report(err.message)); // spawn failure, or EPIPE from a dying child
  child.on('exit', (code, signal) => report(`${signal ?? `exit code ${code}`}${stderrTail ? `: ${stderrTail.trim().split('\n').pop()}` : ''}`));
  return {
    post: (message) => { if (child.connected) child.send(message, (err) => { if (err) report(err.message); }); },
    onMessage: (listener) => child.on('message', (m) => listener(m as EngineMessage)),
    onExit: (listener) => { exitListener = listener; },
    terminate: async () => {
      terminating = true;
      if (child.exitCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill();
        await gone;
      }
    },
  };
}
