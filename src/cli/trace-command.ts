// `simsd trace`: replays an edit trace over a real source file through the same CompletionService and engine
// worker the extension uses, one keystroke at a time, and reports what a person typing would see: re-prefilled
// tokens per keystroke, the share served with no model call, provider time, and time on the caller's thread.
import * as path from 'node:path';
import { buildTrace, DEFAULT_TRACE_OPTIONS } from '../completion/edit-trace';
import { CompletionService, type CompletionSettings } from '../completion/service';
import { percentile } from '../completion/stats';
import { EngineHost } from '../engine/host';
import { resolveModel } from '../engine/models';
import type { EngineReady } from '../engine/protocol';
import { workerTransport } from '../engine/transport';
import { choiceFlag, numberFlag, stringFlag, type ParsedArgs } from './args';
import { LAYOUTS } from './commands';
import type { Print } from './model-commands';
import { defaultCacheDir, embeddedModelsDir } from './pair';
import { readUserText } from './user-input';

const NEVER = { isCancellationRequested: false, onCancellationRequested: () => undefined };

export async function traceCommand(args: ParsedArgs, print: Print): Promise<object> {
  const file = stringFlag(args, 'file') ?? path.join(__dirname, '..', 'src', 'completion', 'trigger.ts');
  const steps = buildTrace(readUserText(file), { ...DEFAULT_TRACE_OPTIONS, maxSteps: numberFlag(args, 'steps', 400) });
  const layout = choiceFlag(args, 'layout', LAYOUTS, 'auto');
  const maxTokens = numberFlag(args, 'max-tokens', 24);
  const models = embeddedModelsDir();
  const target = stringFlag(args, 'target') ?? path.join(models, 'target');
  const draft = stringFlag(args, 'draft') ?? (stringFlag(args, 'target') ? null : path.join(models, 'draft'));
  const convertedRoot = stringFlag(args, 'cache-dir') ?? defaultCacheDir();
  // Resolved here first, as generate does, so a missing or broken checkpoint is a one-line user error (the engine
  // reports its failures as plain text).
  for (const dir of [target, draft]) if (dir !== null) await resolveModel(dir, convertedRoot, print);
  let ready: EngineReady | null = null;
  let failure = null as string | null;
  const host = new EngineHost({
    target: { dir: target, label: 'target' }, draft: draft ? { dir: draft, label: 'draft' } : null, executionProvider: 'cpu',
    threads: null, cacheBudgetBytes: 512 * 2 ** 20, convertedRoot,
  }, { executionProvider: 'cpu', reason: 'trace bench' }, () => workerTransport(path.join(__dirname, 'worker.js')), {
    log: (line) => print(`  [engine] ${line}`), ready: (r) => { ready = r; },
    failed: (m, restarting) => { print(`  [engine] ${m}`); if (!restarting) failure = m; },
  });
  host.start();
  while (ready === null && failure === null) await new Promise((r) => setTimeout(r, 20));
  if (ready === null) {
    await host.dispose();
    throw new Error(`the engine did not start: ${failure}`);
  }
  const engineReady = ready as EngineReady;
  const settings: CompletionSettings = {
    prefixLines: 128, suffixLines: 16, maxPromptTokens: 1024, maxTokens, multiline: 'auto',
    maxLines: 8, maxLineSuffix: 8, debounceMs: 0, decode: { strategy: 'auto' },
    layout: layout === 'prefix' ? 'prefix' : (layout === 'fim' || engineReady.fim) ? 'fim' : 'prefix',
  };
  const service = new CompletionService(host, settings, () => 'cpu');
  const perKeystroke: number[] = [];
  const perCall: number[] = [];
  const providerMs: number[] = [];
  const syncMs: number[] = [];
  let zeroCall = 0;
  let shown = 0;
  let reused = 0;
  let promptTokens = 0;
  try {
    for (const step of steps) {
      const started = performance.now();
      const outcome = await service.complete({ text: step.text, languageId: languageOf(file), uri: `file://${file}` }, step.cursor, false, NEVER);
      providerMs.push(performance.now() - started);
      if (outcome === null) { perKeystroke.push(0); continue; }
      if (outcome.text !== null) shown++;
      syncMs.push(outcome.syncMs);
      if (outcome.result === null) { zeroCall++; perKeystroke.push(0); continue; }
      const p = outcome.result.prefix;
      perCall.push(p.prefilledTokens);
      perKeystroke.push(p.prefilledTokens);
      reused += p.reusedTokens;
      promptTokens += p.promptTokens;
    }
  } finally {
    await host.dispose();
  }
  const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
  const report = {
    file: path.basename(file), keystrokes: steps.length, suggestionsShown: shown, modelCalls: perCall.length,
    zeroCallShare: round(shown > 0 ? zeroCall / shown : 0),
    reprefilledPerKeystroke: { p50: percentile(perKeystroke, 0.5), p95: percentile(perKeystroke, 0.95) },
    reprefilledPerModelCall: { p50: percentile(perCall, 0.5), p95: percentile(perCall, 0.95) },
    prefixReuse: round(promptTokens > 0 ? reused / promptTokens : null),
    providerMs: { p50: round(percentile(providerMs, 0.5)), p90: round(percentile(providerMs, 0.9)) },
    mainThreadMsPerKeystroke: { p50: round(percentile(syncMs, 0.5)), p95: round(percentile(syncMs, 0.95)), max: round(syncMs.length ? Math.max(...syncMs) : null) },
    strategy: engineReady.strategy, layout: settings.layout,
  };
  print(`${report.keystrokes} keystrokes over ${report.file}: ${report.modelCalls} model calls, ${report.suggestionsShown} suggestions shown (${Math.round(100 * (report.zeroCallShare ?? 0))}% with no model call)`);
  print(`re-prefilled tokens per keystroke p50/p95: ${report.reprefilledPerKeystroke.p50}/${report.reprefilledPerKeystroke.p95}; per model call ${report.reprefilledPerModelCall.p50}/${report.reprefilledPerModelCall.p95}; prefix reuse ${report.prefixReuse}`);
  print(`provider time p50/p90: ${report.providerMs.p50}/${report.providerMs.p90} ms; caller-thread time per keystroke p50/p95/max: ${report.mainThreadMsPerKeystroke.p50}/${report.mainThreadMsPerKeystroke.p95}/${report.mainThreadMsPerKeystroke.max} ms`);
  return report;
}

function languageOf(file: string): string {
  const ext = path.extname(file);
  return ext === '.py' ? 'python' : ext === '.ts' ? 'typescript' : ext === '.js' ? 'javascript' : 'plaintext';
}
