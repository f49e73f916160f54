// `simsd serve`: the engine behind an OpenAI-compatible HTTP API (src/server/), for several editors or tools on one
// machine or a shared box. The engine runs in a worker thread behind a FIFO engine client; the server binds loopback
// unless told otherwise, and refuses another address without an API key. SIGINT / SIGTERM stop it gracefully.
import * as path from 'node:path';
import { EngineClient, transportFor } from '../engine/client';
import { modelName } from '../hub/names';
import type { EngineReady } from '../protocol/messages';
import { startServer } from '../server/server';
import { isLoopback } from '../server/http';
import { USES_DRAFT } from '../decode/auto';
import { booleanFlag, choiceFlag, numberFlag, stringFlag, UsageError, type ParsedArgs } from './args';
import { STRATEGY_CHOICES } from './commands';
import type { Print } from './model-commands';
import { defaultCacheDir, requiredFlag, resolveForEngine } from './pair';

/** Running requests get this long to finish after SIGINT / SIGTERM before they are cancelled. */
const GRACE_MS = 5000;

export async function serveCommand(args: ParsedArgs, print: Print): Promise<object> {
  const target = requiredFlag(args, 'target');
  const draft = stringFlag(args, 'draft') ?? null;
  const host = stringFlag(args, 'host') ?? '127.0.0.1';
  const port = numberFlag(args, 'port', 8000);
  // The key may come from the environment, so that it does not show in the process list.
  const apiKey = stringFlag(args, 'api-key') ?? (process.env.SIMSD_API_KEY || null);
  const strategy = choiceFlag(args, 'strategy', STRATEGY_CHOICES, 'auto');
  const json = booleanFlag(args, 'json');
  if (!isLoopback(host) && apiKey === null) {
    throw new UsageError(`--host ${host} is reachable from other machines: give --api-key K (or SIMSD_API_KEY) too, or bind 127.0.0.1`);
  }
  if (apiKey === '') throw new UsageError('--api-key needs a non-empty key');
  if (strategy !== 'auto' && USES_DRAFT[strategy] && draft === null) throw new UsageError(`--strategy ${strategy} needs --draft`);
  const convertedRoot = stringFlag(args, 'cache-dir') ?? defaultCacheDir();
  const provider = await resolveForEngine(args, target, draft, convertedRoot, print);

  let loaded: (ready: EngineReady) => void = () => undefined;
  let gaveUp: (err: Error) => void = () => undefined;
  const ready = new Promise<EngineReady>((resolve, reject) => { loaded = resolve; gaveUp = reject; });
  const client = new EngineClient({
    target: { dir: target, label: path.resolve(target) }, draft: draft === null ? null : { dir: draft, label: path.resolve(draft) },
    threads: numberFlag(args, 'threads') ?? null, cacheBudgetBytes: numberFlag(args, 'cache-mb', 512) * 2 ** 20, convertedRoot,
    sampling: true, // the sampling graphs serve temperature > 0 and greedy requests alike
  }, provider, () => transportFor(provider, path.join(__dirname, 'worker.js')), {
    log: (line) => print(`[engine] ${line}`),
    ready: (r) => loaded(r),
    // A crash restarts the engine (and the queue waits for it); a load failure or one crash too many is final.
    failed: (message, restarting) => { print(`[engine] ${message}`); if (!restarting) gaveUp(new Error(`the engine did not start: ${message}`)); },
  }, { queue: { kind: 'fifo', max: numberFlag(args, 'max-queue', 16) } });
  client.start();
  const info = await ready.catch(async (err: Error) => { await client.dispose(); throw err; });
  const modelId = stringFlag(args, 'model-name') ?? modelName(path.resolve(target));
  let server;
  try {
    server = await startServer(client, {
      host, port, apiKey, strategy, log: print,
      limits: { modelId, contextTokens: info.contextTokens, fim: info.fim },
    });
  } catch (err) {
    await client.dispose();
    const code = (err as { code?: unknown }).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new UsageError(`cannot listen on ${host}:${port}: ${(err as Error).message}`);
    throw err;
  }
  const listening = {
    url: `${server.url}/v1`, host, port: server.port, model: modelId, strategy: strategy === 'auto' ? `auto (${info.strategy} first)` : strategy, contextTokens: info.contextTokens,
    fim: info.fim, maxQueue: numberFlag(args, 'max-queue', 16), apiKey: apiKey !== null,
  };
  print(`serving ${modelId} at ${listening.url} (${listening.strategy} decoding, context ${info.contextTokens} tokens, FIM ${info.fim ? 'on' : 'off'}, up to ${listening.maxQueue} requests waiting${apiKey !== null ? ', API key required' : ''}); Ctrl-C stops`);
  // With --json, this first stdout line tells a program where to connect; the summary is the last line, as always.
  if (json) process.stdout.write(JSON.stringify({ listening }) + '\n');
  // One signal stops gracefully; a second one (its listener gone) ends the process at once.
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (s: NodeJS.Signals) => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(s); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  print(`${signal}: stopping (running requests get ${GRACE_MS / 1000} s)`);
  await server.close(GRACE_MS);
  await client.dispose();
  return { stopped: signal, ...listening, ...server.metrics.summary() };
}
