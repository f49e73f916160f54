// Entry of `dist/worker.js`: the engine in a worker thread (CPU) or a child process (WebGPU), or with
// `--probe-webgpu [--time-shape DIR]` a one-shot child that prints whether WebGPU works (and is faster for DIR's shape). The engine itself is engine.ts.
import { parentPort } from 'node:worker_threads';
import { readConfig } from '../model/config';
import { probe } from '../model/provider';
import type { HostMessage } from '../protocol/messages';
import { serve } from './engine';

if (process.argv.includes('--probe-webgpu')) {
  const at = process.argv.indexOf('--time-shape');
  void (async () => {
    // The probe ends with its editor: a closed IPC channel means nobody waits for the answer.
    process.on('disconnect', () => process.exit(0));
    const answer = await (async () => probe(at > 0 ? readConfig(process.argv[at + 1]) : null))()
      .catch((err: Error) => ({ ok: false, reason: err.message.split('\n')[0] }));
    process.stdout.write(JSON.stringify(answer) + '\n');
    process.exit(0);
  })();
} else if (parentPort) {
  const port = parentPort;
  serve((m) => port.postMessage(m), (h) => port.on('message', h), () => port.close());
} else if (process.send) {
  const send = process.send.bind(process);
  serve((m) => send(m), (h) => process.on('message', (m) => h(m as HostMessage)), () => process.exit(0));
}
