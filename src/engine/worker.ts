// Entry of `dist/worker.js`: the engine in a worker thread (CPU) or a child process (WebGPU), or with
// `--probe-webgpu` a one-shot child that prints whether WebGPU works. The engine itself is engine.ts.
import { parentPort } from 'node:worker_threads';
import { probeWebGpu } from '../model/provider';
import type { HostMessage } from '../protocol/messages';
import { serve } from './engine';

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
