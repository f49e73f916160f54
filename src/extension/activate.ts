// Wiring: settings → engine client (the engine in a worker thread, or a child process for WebGPU) → completion
// service → inline provider, commands and status bar. Returns a small API (used by the e2e tests and other extensions).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CompletionService } from '../completion/service';
import { CompletionStats } from '../completion/stats';
import { EngineClient, transportFor } from '../engine/client';
import { chooseProvider } from '../engine/provider-choice';
import type { EngineReady } from '../protocol/messages';
import { registerCommands } from './commands';
import { InlineProvider } from './inline-provider';
import { RemoteClient } from '../remote/client';
import { REMOTE_KEY, selectModels, setHubToken, setRemoteApiKey } from './models';
import { RingCollector } from './ring';
import { completionSettings, engineConfig, modelPair, readSettings, type Settings } from './settings';
import { StatusBar, type EngineState } from './status-bar';

export interface SimsdApi {
  readonly ready: Promise<{ device: string; models: string }>;
  lastCompletion(): { text: string } | undefined;
  stats(): object;
  /** Who answers now: `local` (the engine) or `remote`, and whether it is ready. */
  backend(): { kind: 'local' | 'remote'; ready: boolean };
}

export function activate(context: vscode.ExtensionContext): SimsdApi {
  const log = vscode.window.createOutputChannel('SimSD');
  const line = (s: string) => log.appendLine(`${new Date().toISOString()} ${s}`);
  const status = new StatusBar();
  const stats = new CompletionStats();
  const workerScript = path.join(context.extensionPath, 'dist', 'worker.js');
  let settings = loadSettings(line);
  let state: EngineState = { kind: 'loading', detail: 'loading models…' };
  let engine: EngineClient | null = null;
  /** With `simsd.backend: remote`, the server instead of the engine (no engine runs then). */
  let remote: RemoteClient | null = null;
  /** Whoever answers completions now: the engine once ready, or the connected server. */
  const backend = () => (remote ?? (engine?.ready ? engine : null));
  let generating = false;
  /** Toggle Completions pauses this window's completions; `simsd.enable` (per language) is read per document. */
  let enabled = true;
  let resolveReady: (r: { device: string; models: string }) => void = () => undefined;
  /** Select Models waits for the engine its settings change starts: each waiter hears that engine's loading and end. */
  let switchWaiters: { report(detail: string): void; done(ok: boolean): void }[] = [];
  const settleSwitch = (ok: boolean) => { for (const w of switchWaiters) w.done(ok); switchWaiters = []; };
  const ready = new Promise<{ device: string; models: string }>((r) => { resolveReady = r; });
  const languageAllowed = (doc: vscode.TextDocument): boolean => {
    if (doc.uri.scheme === 'output' || doc.uri.scheme === 'vscode-scm' || !enabledFor(doc)) return false;
    if (!settings.enabledLanguages.includes('*') && !settings.enabledLanguages.includes(doc.languageId)) return false;
    return !settings.disabledGlobs.some((glob) => vscode.languages.match({ pattern: glob }, doc) > 0);
  };
  /** The active editor's language when completions are off for it (shown in the status bar). */
  const offLanguage = (): string | null => {
    const doc = vscode.window.activeTextEditor?.document;
    return doc !== undefined && doc.uri.scheme === 'file' && !languageAllowed(doc) ? doc.languageId : null;
  };
  const render = () => status.render(enabled ? state : { kind: 'disabled' }, stats.snapshot(), generating, offLanguage());

  const service = new CompletionService(
    { request: (req, options) => (remote ?? engine)?.request(req, options) ?? Promise.resolve(null) },
    completionSettings(settings, null),
    () => (engine?.ready?.executionProvider === 'webgpu' ? 'gpu' : 'cpu'),
  );
  const provider = new InlineProvider(service, {
    allowed: (doc, manual) => enabled && backend() !== null && (manual || (settings.completion.auto && !generating)) && languageAllowed(doc),
    served: (outcome, latencyMs) => {
      stats.record(outcome, latencyMs);
      if (outcome.result) {
        const r = outcome.result;
        const shown = outcome.text === null ? `; discarded by post-processing: ${JSON.stringify(r.text.slice(0, 60))}` : '';
        line(`completion: ${r.tokenIds.length} tokens, ${r.stats.tokPerS.toFixed(1)} tok/s, ${r.stats.strategy}, reused ${r.prefix.reusedTokens}/${r.prefix.promptTokens} prompt tokens, ${Math.round(latencyMs)} ms${shown}`);
      }
      render();
    },
    failed: (err) => line(`completion failed: ${err.message}`),
  });

  // Warm-up prefill when the cursor rests on another line while the engine is idle (lowest priority; the next
  // keystroke supersedes it).
  const warmup = lineWarmup((doc, position) => {
    if (remote !== null || !engine?.ready || !enabled || doc.isClosed || !languageAllowed(doc) || engine.queueDepth > 0) return;
    const snapshot = { text: doc.getText(), languageId: doc.languageId, uri: doc.uri.toString() };
    void engine.request(service.request(snapshot, { line: position.line, character: position.character }, 'warmup', 0, false)).catch((err: Error) => line(`warm-up failed: ${err.message}`));
  });

  // Settings events can come in bursts (Select Models writes two keys): each start supersedes the previous one,
  // and only the latest creates an engine.
  let starts = 0;
  async function startEngine(): Promise<void> {
    const mine = ++starts;
    const old = engine;
    engine = null;
    remote = null;
    service.suggestions.clear(); // texts of the previous models or settings
    await old?.dispose();
    if (settings.backend === 'remote') return connectRemote(mine);
    state = { kind: 'loading', detail: 'loading models…' };
    render();
    const pair = modelPair(context.extensionPath, settings);
    const config = engineConfig(pair, settings, context.globalStorageUri.fsPath);
    if (settings.executionProvider !== 'cpu') {
      state = { kind: 'loading', detail: 'checking WebGPU…' };
      render();
    }
    const provider = await chooseProvider(settings.executionProvider, {
      workerScript, targetDir: config.target.dir, log: line,
      verdictFile: path.join(config.convertedRoot, 'webgpu-verdicts.json'),
    });
    if (mine !== starts) return;
    engine = new EngineClient(config, provider, () => transportFor(provider, workerScript), {
      log: line,
      loading: (detail) => {
        state = { kind: 'loading', detail };
        for (const w of switchWaiters) w.report(detail);
        render();
      },
      ready: (r: EngineReady) => {
        state = { kind: 'ready', ready: r };
        service.updateSettings(completionSettings(settings, r));
        line(`ready: ${r.target}${r.draft ? ` + ${r.draft}` : ''} on ${r.executionProvider}, ${r.precision} (${r.providerReason}); strategy ${r.strategy}; ${Math.round(r.loadMs)} ms`);
        resolveReady({ device: r.executionProvider === 'webgpu' ? 'WebGPU' : 'CPU', models: `${r.target}${r.draft ? ` + ${r.draft}` : ''}` });
        settleSwitch(true);
        render();
      },
      failed: (message, restarting) => {
        line(`engine: ${message}`);
        if (!restarting) {
          state = { kind: 'error', message };
          settleSwitch(false);
          void vscode.window.showErrorMessage(`SimSD: ${message}`);
        } else {
          state = { kind: 'loading', detail: 'restarting…' };
        }
        render();
      },
    });
    engine.start();
  }

  /** `simsd.backend: remote`: ask the server for its models (URL, key, model name checked), then use it. */
  async function connectRemote(mine: number): Promise<void> {
    const url = settings.remote.url;
    state = url === '' ? { kind: 'error', message: 'simsd.backend is "remote" but simsd.remote.url is empty' } : { kind: 'loading', detail: `connecting to ${url}…` };
    render();
    if (url === '') return;
    try {
      const client = await RemoteClient.connect({ url, model: settings.remote.model, fim: settings.remote.fim, apiKey: await context.secrets.get(REMOTE_KEY) });
      if (mine !== starts) return;
      remote = client;
      const r = client.ready;
      state = { kind: 'remote', remote: r };
      service.updateSettings({ ...completionSettings(settings, null), layout: r.fim ? 'fim' : 'prefix' });
      line(`remote: ${r.model} on ${r.baseUrl} (${r.server}, FIM ${r.fim ? 'on' : 'off'}), ${Math.round(r.latencyMs)} ms`);
      resolveReady({ device: 'remote', models: r.model });
    } catch (err) {
      if (mine !== starts) return;
      state = { kind: 'error', message: (err as Error).message };
      line(`remote: ${(err as Error).message}`);
      void vscode.window.showErrorMessage(`SimSD: ${(err as Error).message}`);
    }
    render();
  }

  context.subscriptions.push(
    log, status,
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider),
    ...registerCommands({
      backend, settings: () => settings, log,
      debugInfo: () => ({ settings, engine: engine?.ready ?? null, remote: remote?.ready ?? null, state, stats: stats.snapshot(), suggestions: service.suggestions.stats() }),
      setGenerating: (on) => { generating = on; render(); },
      toggle: () => { enabled = !enabled; render(); return enabled; },
      selectModels: async () => {
        const changed = await selectModels({
          extensionPath: context.extensionPath, secrets: context.secrets, hubEndpoint: () => settings.hub.endpoint, log: line,
          engineSwitch: (report) => new Promise<boolean>((done) => { switchWaiters.push({ report, done }); }),
        });
        if (changed) line('model selection changed');
      },
      setHubToken: () => setHubToken(context.secrets),
      setRemoteApiKey: async () => { if (await setRemoteApiKey(context.secrets) && settings.backend === 'remote') void startEngine(); },
      activeLanguage: () => vscode.window.activeTextEditor?.document.languageId ?? null,
    }),
    new RingCollector((ring) => service.setRing(ring), languageAllowed),
    vscode.window.onDidChangeActiveTextEditor(() => render()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('editor.inlineSuggest.enabled')) void checkInlineSuggest(line);
      if (!e.affectsConfiguration('simsd')) return;
      const before = settings;
      settings = loadSettings(line);
      service.updateSettings(remote ? { ...completionSettings(settings, null), layout: remote.ready.fim ? 'fim' : 'prefix' } : completionSettings(settings, engine?.ready ?? null));
      if (engineChanged(before, settings)) void startEngine();
      render();
    }),
    vscode.workspace.onDidCloseTextDocument((doc) => engine?.closeFile(doc.uri.toString())),
    vscode.window.onDidChangeTextEditorSelection((e) => warmup.moved(e.textEditor.document, e.selections[0].active)),
    { dispose: () => void engine?.dispose() },
  );
  void startEngine();
  void checkInlineSuggest(line);
  return {
    ready, lastCompletion: () => (provider.lastShown === undefined ? undefined : { text: provider.lastShown }), stats: () => stats.snapshot(),
    backend: () => ({ kind: remote !== null ? 'remote' : 'local', ready: backend() !== null }),
  };
}

export function deactivate(): void {
  // Disposables registered in activate() stop the engine.
}

const WARMUP_IDLE_MS = 400;

/** Calls `run` once the cursor has rested for WARMUP_IDLE_MS on a line other than the last warmed one. */
function lineWarmup(run: (doc: vscode.TextDocument, position: vscode.Position) => void) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = '';
  return {
    moved(doc: vscode.TextDocument, position: vscode.Position): void {
      clearTimeout(timer);
      const key = `${doc.uri.toString()}#${position.line}`;
      if (key === last) return;
      timer = setTimeout(() => { last = key; run(doc, position); }, WARMUP_IDLE_MS);
    },
  };
}

function loadSettings(log: (s: string) => void): Settings {
  const config = vscode.workspace.getConfiguration('simsd');
  const { settings, problems } = readSettings((key) => config.get(key));
  for (const p of problems) {
    log(p);
    void vscode.window.showWarningMessage(`SimSD: ${p}`);
  }
  return settings;
}

function engineChanged(a: Settings, b: Settings): boolean {
  return a.backend !== b.backend || a.remote.url !== b.remote.url || a.remote.model !== b.remote.model || a.remote.fim !== b.remote.fim
    || a.model.target !== b.model.target || a.model.draft !== b.model.draft || a.executionProvider !== b.executionProvider
    || a.threads !== b.threads || a.cacheMaxMemoryMB !== b.cacheMaxMemoryMB
    || (a.decode.temperature > 0) !== (b.decode.temperature > 0); // the sampling graphs are opened only when needed
}

/**
 * Ghost text needs VS Code's inline suggestions. When they are off, say so once, with a one-click fix (the user
 * setting; a workspace value that turns them off is left alone and named).
 */
async function checkInlineSuggest(log: (line: string) => void): Promise<void> {
  const editor = vscode.workspace.getConfiguration('editor');
  if (editor.get<boolean>('inlineSuggest.enabled') !== false) return;
  const where = editor.inspect<boolean>('inlineSuggest.enabled');
  const inWorkspace = where?.workspaceValue === false || where?.workspaceFolderValue === false;
  log('editor.inlineSuggest.enabled is false: no ghost text can show');
  const fix = inWorkspace ? undefined : 'Turn On';
  const message = 'SimSD: inline suggestions are turned off in VS Code (editor.inlineSuggest.enabled), so no ghost text can show.'
    + (inWorkspace ? ' This workspace\'s settings turn them off.' : '');
  const pick = await (fix ? vscode.window.showWarningMessage(message, fix) : vscode.window.showWarningMessage(message));
  if (pick === fix && fix !== undefined) await editor.update('inlineSuggest.enabled', true, vscode.ConfigurationTarget.Global);
}

/** `simsd.enable` for this document's language (a language-specific value overrides the global one). */
function enabledFor(doc: vscode.TextDocument): boolean {
  return vscode.workspace.getConfiguration('simsd', doc).get<boolean>('enable') !== false;
}

