// The load run of test/engine/serve-load.test.ts as a tool: N streaming clients at once against `simsd serve`, every
// k-th abandoning its stream; prints one JSON line of figures (wall time, tokens/s, p50/p95 latency, RSS before and
// after, mismatches with the sequential answers). Without --url it starts `dist/cli.js serve` on the embedded pair.
//
//   node out/tools/serve-load.js [--url http://127.0.0.1:8000 --model NAME --api-key K] [--clients 50] [--abandon-every 5] [--max-tokens 16]
import { parseArgs } from 'node:util';
import { serveLoad, spawnServe } from '../serve-helpers';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' }, model: { type: 'string' }, 'api-key': { type: 'string' }, clients: { type: 'string', default: '50' },
      'abandon-every': { type: 'string', default: '5' }, 'max-tokens': { type: 'string', default: '16' }, threads: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const server = values.url === undefined
    ? await spawnServe(['--target', 'models/target', '--draft', 'models/draft', '--threads', values.threads, '--max-queue', '4096'])
    : null;
  const base = server?.base ?? (values.url ?? '').replace(/\/+$/, '').replace(/\/v1$/, '');
  const headers: Record<string, string> = values['api-key'] ? { authorization: `Bearer ${values['api-key']}` } : {};
  try {
    const model = values.model ?? server?.listening.model ?? 'target';
    const figures = await serveLoad(base, model, {
      clients: Number(values.clients), abandonEvery: Number(values['abandon-every']), maxTokens: Number(values['max-tokens']), headers,
    });
    process.stdout.write(JSON.stringify({ base, model, maxTokens: Number(values['max-tokens']), ...figures }) + '\n');
  } finally {
    await server?.stop('SIGTERM');
  }
}

main().catch((err: Error) => {
  process.stderr.write(`serve-load: ${err.message}\n`);
  process.exit(1);
});
