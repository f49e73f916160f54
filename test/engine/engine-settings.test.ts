// Every decode setting's documented range works end to end: for each bound that package.json declares (minimum,
// maximum, each enum value), the setting is read by readSettings, turned into the engine config and the completion
// request exactly as the extension does (settings.ts), and served by the engine in its real worker thread on tiny
// checkpoints. A setting that validates but that the engine then refuses (temperature > 0 on greedy graphs did)
// fails here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CompletionService } from '../../src/completion/service';
import { EngineClient, workerTransport } from '../../src/engine/client';
import type { EngineConfig, EngineReady } from '../../src/protocol/messages';
import { completionSettings, engineConfig, readSettings, type Settings } from '../../src/extension/settings';
import { tempDir } from '../fixtures/corrupt';
import { makeCheckpoint, SMALL, TINY } from '../fixtures/tiny-checkpoint';

const WORKER = resolve('dist/worker.js');
const work = tempDir('simsd-engine-settings');
const hosts = new Map<string, { host: EngineClient; ready: EngineReady }>();

interface SettingSchema { readonly minimum?: number; readonly maximum?: number; readonly enum?: readonly unknown[]; readonly default: unknown }
const schema = (JSON.parse(readFileSync('package.json', 'utf8')) as { contributes: { configuration: { properties: Record<string, SettingSchema> } } })
  .contributes.configuration.properties;

/** [setting key without `simsd.`, value] for every declared bound of every decode setting and the token budgets. */
function boundaryValues(): [string, unknown][] {
  const keys = Object.keys(schema).filter((k) => k.startsWith('simsd.decode.') || k === 'simsd.completion.maxTokens');
  assert.ok(keys.length >= 6, `decode settings found: ${keys.join(', ')}`);
  return keys.flatMap((key) => {
    const s = schema[key];
    const values = [...(s.enum ?? []), ...(s.minimum !== undefined ? [s.minimum] : []), ...(s.maximum !== undefined ? [s.maximum] : []), s.default];
    return [...new Set(values)].map((v): [string, unknown] => [key.slice('simsd.'.length), v]);
  });
}

before(() => {
  makeCheckpoint(join(work.path, 'target'), { ...SMALL, seed: 21 });
  makeCheckpoint(join(work.path, 'draft'), { ...TINY, seed: 22 });
});

after(async () => {
  for (const { host } of hosts.values()) await host.dispose();
  work.remove();
});

/** One engine per distinct config (the sampling graphs are opened only when a temperature > 0 asks for them). */
async function engineFor(settings: Settings): Promise<{ host: EngineClient; ready: EngineReady; config: EngineConfig }> {
  const pair = { target: { dir: join(work.path, 'target'), label: 'tiny target' }, draft: { dir: join(work.path, 'draft'), label: 'tiny draft' } };
  const config = { ...engineConfig(pair, settings, work.path), threads: 1 };
  const key = JSON.stringify(config);
  let entry = hosts.get(key);
  if (entry === undefined) {
    let resolveReady: (r: EngineReady) => void = () => undefined;
    const ready = new Promise<EngineReady>((r) => { resolveReady = r; });
    const failures: string[] = [];
    const host = new EngineClient(config, { executionProvider: 'cpu', reason: 'test' }, () => workerTransport(WORKER), {
      log: () => undefined, ready: (r) => resolveReady(r), failed: (m) => failures.push(m),
    });
    host.start();
    entry = { host, ready: await ready };
    assert.deepEqual(failures, []);
    hosts.set(key, entry);
  }
  return { ...entry, config };
}

const doc = { text: 'def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return ', languageId: 'python', uri: 'file:///settings.py' };

for (const [key, value] of boundaryValues()) {
  test(`simsd.${key} = ${JSON.stringify(value)}: read without a problem and served by the engine`, async () => {
    const { settings, problems } = readSettings((k) => (k === key ? value : undefined));
    assert.deepEqual(problems, [], 'the documented value is accepted');
    const { host, ready, config } = await engineFor(settings);
    if (settings.decode.temperature > 0) assert.equal(config.sampling, true, 'temperature > 0 opens the sampling graphs');
    const service = new CompletionService(host, completionSettings(settings, ready), () => 'cpu');
    const request = service.request(doc, { line: 5, character: 11 }, 'completion', Math.min(settings.completion.maxTokens, 16), true);
    const result = await host.request({ ...request, fileKey: `${doc.uri}#${key}=${String(value)}` });
    assert.ok(result !== null, 'the engine answered (null: failed or cancelled)');
    assert.ok(['stop', 'length'].includes(result.finishReason), `finish ${result.finishReason}`);
    assert.ok(result.tokenIds.length > 0 || result.finishReason === 'stop');
  });
}
