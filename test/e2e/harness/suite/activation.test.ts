// Activation, the API object, registered commands and the native module, inside the real extension host.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { COMMANDS, READY_TIMEOUT_MS, getApi, getExtension, withTimeout } from './helpers';

describe('activation', () => {
  it('the extension is present', () => {
    const ext = getExtension();
    assert.strictEqual(ext.packageJSON.publisher, 'simsd');
    assert.strictEqual(ext.packageJSON.name, 'simsd');
  });

  it('activate() returns the API object', async () => {
    const api = await getApi();
    assert.ok(getExtension().isActive, 'extension is not active');
    assert.ok(api.ready && typeof api.ready.then === 'function', 'api.ready is not a promise');
    assert.strictEqual(typeof api.lastCompletion, 'function', 'api.lastCompletion is not a function');
    assert.strictEqual(typeof api.stats, 'function', 'api.stats is not a function');
    assert.strictEqual(typeof api.stats(), 'object', 'api.stats() is not an object');
  });

  it('ready resolves with the device and the models', async function () {
    this.timeout(READY_TIMEOUT_MS + 10000);
    const api = await getApi();
    const info = await withTimeout(api.ready, READY_TIMEOUT_MS, 'api.ready');
    assert.ok(info, 'ready resolved to nothing');
    assert.strictEqual(typeof info.device, 'string');
    assert.ok(info.device.length > 0, 'empty device');
    assert.strictEqual(typeof info.models, 'string');
    assert.ok(info.models.length > 0, 'empty models');
    console.log(`    ready: device=${info.device} models=${info.models}`);
  });

  it('the commands are registered', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    const missing = COMMANDS.filter((c) => !all.has(c));
    assert.deepStrictEqual(missing, [], `commands not registered: ${missing.join(', ')}`);
    const contributed = ((getExtension().packageJSON.contributes?.commands ?? []) as { command: string }[]).map((c) => c.command);
    const notContributed = COMMANDS.filter((c) => !contributed.includes(c));
    assert.deepStrictEqual(notContributed, [], `commands missing from package.json contributes.commands: ${notContributed.join(', ')}`);
  });

  it('onnxruntime-node loads in the extension host', () => {
    // Resolve it from the extension's own folder: the copy the extension loads.
    const resolved = require.resolve('onnxruntime-node', { paths: [getExtension().extensionPath] });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require(resolved) as typeof import('onnxruntime-node');
    assert.strictEqual(typeof ort.InferenceSession?.create, 'function', 'InferenceSession.create missing');
    const backends = ort.listSupportedBackends().map((b) => b.name);
    assert.ok(backends.includes('cpu'), `cpu backend missing: ${backends.join(', ')}`);
    console.log(`    onnxruntime-node from ${resolved}; node ${process.versions.node} (modules ${process.versions.modules}); backends ${backends.join(', ')}`);
  });
});
