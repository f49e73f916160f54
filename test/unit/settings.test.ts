// simsd.* settings: defaults, valid values, and every bad value reported (with the default used instead).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSettings } from '../../src/extension/settings';

test('defaults when nothing is set', () => {
  const { settings, problems } = readSettings(() => undefined);
  assert.deepEqual(problems, []);
  assert.equal(settings.decode.strategy, 'auto');
  assert.equal(settings.completion.maxTokens, 64);
  assert.equal(settings.completion.debounceMs, 'auto');
  assert.equal(settings.cacheMaxMemoryMB, 1024);
  assert.equal(settings.threads, null);
});

test('valid values are read', () => {
  const values: Record<string, unknown> = { 'decode.strategy': 'simsd-exact', 'completion.debounceMs': 120, 'completion.multiline': 'never', threads: 3, 'model.target': ' /m/t ' };
  const { settings, problems } = readSettings((k) => values[k]);
  assert.deepEqual(problems, []);
  assert.equal(settings.decode.strategy, 'simsd-exact');
  assert.equal(settings.completion.debounceMs, 120);
  assert.equal(settings.completion.multiline, 'never');
  assert.equal(settings.threads, 3);
  assert.equal(settings.model.target, '/m/t');
});

test('each bad value is named in a problem and replaced by the default', () => {
  const values: Record<string, unknown> = {
    'decode.strategy': 'fastest', 'completion.maxTokens': -3, 'decode.threshold': 2, 'executionProvider': 'cuda',
    'completion.multiline': 'sometimes', 'enabledLanguages': 'python', 'enable': 'yes', 'completion.debounceMs': 'soon',
  };
  const { settings, problems } = readSettings((k) => values[k]);
  for (const key of Object.keys(values)) assert.ok(problems.some((p) => p.startsWith(`simsd.${key}:`)), `no problem reported for ${key}: ${problems.join(' | ')}`);
  assert.equal(settings.decode.strategy, 'auto');
  assert.equal(settings.completion.maxTokens, 64);
  assert.equal(settings.decode.threshold, 0.9);
  assert.equal(settings.executionProvider, 'auto');
  assert.deepEqual(settings.enabledLanguages, ['*']);
  assert.equal(settings.completion.debounceMs, 'auto');
});

test('a bad simsd.threads falls back to the declared default "auto" (null), as the warning says', () => {
  for (const bad of ['abc', 0, -2, 1.5, 1000]) {
    const { settings, problems } = readSettings((k) => (k === 'threads' ? bad : undefined));
    assert.equal(settings.threads, null, `threads ${JSON.stringify(bad)}`);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^simsd\.threads: .* using the default$/);
  }
});

test('package.json is the one place for settings: every contributed key is read, and its default is what readSettings gives', async () => {
  const { SETTINGS_SCHEMA } = await import('../../src/extension/settings');
  const asked = new Set<string>();
  const { settings, problems } = readSettings((key) => { asked.add(key); return undefined; });
  assert.deepEqual(problems, []);
  assert.deepEqual([...asked].sort(), Object.keys(SETTINGS_SCHEMA).sort(), 'readSettings reads exactly the contributed keys');
  const flat: Record<string, unknown> = {
    enable: settings.enable, enabledLanguages: settings.enabledLanguages, disabledGlobs: settings.disabledGlobs,
    ...Object.fromEntries(Object.entries(settings.completion).map(([k, v]) => [`completion.${k}`, v])),
    ...Object.fromEntries(Object.entries(settings.decode).map(([k, v]) => [`decode.${k}`, v])),
    'model.target': settings.model.target, 'model.draft': settings.model.draft, 'hub.endpoint': settings.hub.endpoint, backend: settings.backend,
    'remote.url': settings.remote.url, 'remote.model': settings.remote.model, 'remote.fim': settings.remote.fim, executionProvider: settings.executionProvider,
    threads: settings.threads ?? 'auto', 'cache.maxMemoryMB': settings.cacheMaxMemoryMB, 'generate.maxTokens': settings.generate.maxTokens,
  };
  for (const [key, schema] of Object.entries(SETTINGS_SCHEMA)) assert.deepEqual(flat[key], schema.default, `simsd.${key}`);
  // Ranges come from the same place: one past each declared bound is refused.
  for (const [key, schema] of Object.entries(SETTINGS_SCHEMA)) {
    for (const bad of [schema.minimum === undefined ? undefined : schema.minimum - 1, schema.maximum === undefined ? undefined : schema.maximum + 1]) {
      if (bad === undefined) continue;
      const read = readSettings((k) => (k === key ? bad : undefined));
      assert.equal(read.problems.length, 1, `simsd.${key} = ${bad}`);
    }
  }
});

test('the former strategy names still work: vanilla-dynamic is native with the dynamic reveal rule, said once', () => {
  const { settings, problems } = readSettings((k) => (k === 'decode.strategy' ? 'vanilla-dynamic' : undefined));
  assert.equal(settings.decode.strategy, 'native');
  assert.equal(settings.decode.revealRule, 'dynamic');
  assert.equal(problems.length, 1);
  assert.match(problems[0], /now "native" with simsd\.decode\.revealRule "dynamic"/);
});
