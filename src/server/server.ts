// `simsd serve`'s HTTP server: an OpenAI-compatible API (completions, chat completions, models) plus /health and
// /metrics, over one engine client whose FIFO queue runs the requests one at a time (docs/architecture.md §5). The
// engine runs in a worker thread, so decoding never blocks this event loop: streams, new connections and cancels are
// served while a forward runs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StrategyName } from '../protocol/request';
import { Handler, type ServingEngine } from './handler';
import { MAX_BODY_BYTES } from './http';
import { ServerMetrics } from './metrics';
import type { ModelLimits } from './validate';

export interface ServerOptions {
  readonly host: string;
  readonly port: number;                      // 0: any free port
  readonly limits: ModelLimits;
  readonly strategy: StrategyName | 'auto';
  readonly apiKey: string | null;
  readonly maxBodyBytes?: number;             // default 4 MiB
  readonly log?: (line: string) => void;
}

export interface RunningServer {
  readonly url: string;                       // http://host:port (without /v1)
  readonly port: number;
  readonly metrics: ServerMetrics;
  /**
   * Stops: no new connections or requests (503); running requests get `graceMs` to finish, then are cancelled (a
   * stream ends with an error event, a whole answer is a 503); idle connections close. The engine stays the caller's.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(engine: ServingEngine, options: ServerOptions): Promise<RunningServer> {
  const metrics = new ServerMetrics();
  const handler = new Handler(engine, {
    limits: options.limits, strategy: options.strategy, apiKey: options.apiKey, maxBodyBytes: options.maxBodyBytes ?? MAX_BODY_BYTES,
    created: Math.floor(Date.now() / 1000), log: options.log ?? (() => undefined),
  }, metrics);
  const server = createServer((req, res) => handler.handle(req, res));
  await listen(server, options.host, options.port);
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    metrics,
    close: (graceMs = 5000) => {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await handler.drain(graceMs);
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
