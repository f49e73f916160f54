// `simsd trace`: replays an edit trace over a real source file through the same CompletionService and engine
// worker the extension uses, and reports what a person typing would see: the share of shown suggestions served with
// no model call, re-prefilled tokens per keystroke, provider time, time on the caller's thread, and the share of
// typed characters a shown suggestion had already predicted. By default keystrokes come at a typist's pace and each
// cancels the previous one's request, as VS Code does; `--pace sequential` waits for every answer.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chunkAroundLine, addRingChunk } from '../completion/ring-chunks';
import { buildTrace, DEFAULT_TRACE_OPTIONS, type EditStep } from '../completion/edit-trace';
import { CompletionService, type CompletionOutcome, type CompletionSettings } from '../completion/service';
import { percentile } from '../completion/stats';
import { EngineClient, transportFor } from '../engine/client';
import type { EngineReady } from '../protocol/messages';
import type { RingChunk } from '../protocol/request';
import { choiceFlag, numberFlag, stringFlag, type ParsedArgs } from './args';
import { LAYOUTS } from './commands';
import type { Print } from './model-commands';
import { defaultCacheDir, embeddedModelsDir, resolveForEngine } from './pair';
import { readUserText } from './user-input';

export async function traceCommand(args: ParsedArgs, print: Print): Promise<object> {
  const file = stringFlag(args, 'file') ?? path.join(__dirname, '..', 'src', 'completion', 'trigger.ts');
  const steps = buildTrace(readUserText(file), { ...DEFAULT_TRACE_OPTIONS, maxSteps: numberFlag(args, 'steps', 400) });
  const layout = choiceFlag(args, 'layout', LAYOUTS, 'auto');
  const pace = choiceFlag(args, 'pace', ['typist', 'sequential'] as const, 'typist');
  const maxTokens = numberFlag(args, 'max-tokens', 24);
  const models = embeddedModelsDir();
  const target = stringFlag(args, 'target') ?? path.join(models, 'target');
  const draft = stringFlag(args, 'draft') ?? (stringFlag(args, 'target') ? null : path.join(models, 'draft'));
  const convertedRoot = stringFlag(args, 'cache-dir') ?? defaultCacheDir();
  const provider = await resolveForEngine(args, target, draft, convertedRoot, print);
  let ready: EngineReady | null = null;
  let failure = null as string | null;
  const client = new EngineClient({
    target: { dir: target, label: 'target' }, draft: draft ? { dir: draft, label: 'draft' } : null,
    threads: null, cacheBudgetBytes: 512 * 2 ** 20, convertedRoot,
  }, provider, () => transportFor(provider, path.join(__dirname, 'worker.js')), {
    log: (line) => print(`  [engine] ${line}`), ready: (r) => { ready = r; },
    failed: (m, restarting) => { print(`  [engine] ${m}`); if (!restarting) failure = m; },
  });
  client.start();
  while (ready === null && failure === null) await new Promise((r) => setTimeout(r, 20));
  if (ready === null) {
    await client.dispose();
    throw new Error(`the engine did not start: ${failure}`);
  }
  const engineReady = ready as EngineReady;
  const settings: CompletionSettings = {
    prefixLines: 128, suffixLines: 16, maxPromptTokens: 1024, maxTokens, multiline: 'auto',
    maxLines: 8, maxLineSuffix: 8, debounceMs: 0, decode: { strategy: 'auto' },
    layout: layout === 'prefix' ? 'prefix' : (layout === 'fim' || engineReady.fim) ? 'fim' : 'prefix',
  };
  const service = new CompletionService(client, settings, () => 'cpu');
  const ring = siblingChunks(file, numberFlag(args, 'ring', 0));
  service.setRing(ring);
  let outcomes: Replayed[];
  try {
    outcomes = await replay(service, steps, { text: '', languageId: languageOf(file), uri: `file://${file}` }, pace);
  } finally {
    await client.dispose();
  }
  return report(file, steps, outcomes, engineReady, settings, pace, ring.length, print);
}

/** One keystroke's answer as the editor would have used it. */
interface Replayed {
  readonly outcome: CompletionOutcome | null;
  readonly shown: boolean;          // it arrived before the next keystroke (VS Code drops later ones)
  readonly providerMs: number;
}

/** A typist's gaps: 60–140 ms between characters, 400 ms after a new line or a cursor move (seeded, reproducible). */
function gapMs(step: EditStep, index: number): number {
  if (step.kind === 'newline' || step.kind === 'move') return 400;
  const x = Math.sin(index * 12.9898 + 78.233) * 43758.5453;
  return 60 + 80 * (x - Math.floor(x));
}

async function replay(service: CompletionService, steps: readonly EditStep[], doc: { languageId: string; uri: string; text: string }, pace: 'typist' | 'sequential'): Promise<Replayed[]> {
  const results: Promise<Replayed>[] = [];
  let previous: { cancel(): void; done: boolean } | null = null;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (pace === 'typist' && i > 0) await new Promise((r) => setTimeout(r, gapMs(step, i)));
    previous?.cancel(); // the editor cancels the provider call of the previous keystroke
    const token = keystrokeToken();
    const started = performance.now();
    const result = service.complete({ ...doc, text: step.text }, step.cursor, false, token).then((outcome): Replayed => {
      token.done = true;
      return { outcome, shown: outcome !== null && outcome.text !== null && !token.isCancellationRequested, providerMs: performance.now() - started };
    });
    previous = token;
    results.push(result);
    if (pace === 'sequential') await result;
  }
  return Promise.all(results);
}

function keystrokeToken() {
  const listeners: (() => void)[] = [];
  return {
    isCancellationRequested: false,
    done: false,
    onCancellationRequested(listener: () => void) { listeners.push(listener); },
    cancel() { if (this.isCancellationRequested || this.done) return; this.isCancellationRequested = true; for (const l of listeners) l(); },
  };
}

/**
 * Of the characters typed, the share that the suggestion on screen had already predicted: a shown suggestion stays
 * on screen while what is typed matches it, character by character (as VS Code keeps ghost text that is typed along).
 */
function predictedShare(steps: readonly EditStep[], outcomes: readonly Replayed[]): { typed: number; predicted: number } {
  let typed = 0;
  let predicted = 0;
  let ghost = '';
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (step.kind === 'type' || step.kind === 'newline') {
      const char = step.kind === 'newline' ? '\n' : charTyped(step);
      typed++;
      if (ghost.length > 0 && ghost[0] === char) { predicted++; ghost = ghost.slice(1); } else ghost = '';
    } else {
      ghost = '';
    }
    const o = outcomes[i];
    if (o.shown && o.outcome?.text) ghost = o.outcome.text;
  }
  return { typed, predicted };
}

function charTyped(step: EditStep): string {
  const line = step.text.split('\n')[step.cursor.line] ?? '';
  return line[step.cursor.character - 1] ?? '';
}

/** Chunks of up to 64 lines from the start of the file's sibling sources, as if the user had just viewed them. */
function siblingChunks(file: string, count: number): readonly RingChunk[] {
  if (count === 0) return [];
  const dir = path.dirname(file);
  const ext = path.extname(file);
  let ring: readonly RingChunk[] = [];
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith(ext) && n !== path.basename(file)).sort().slice(0, count)) {
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    const chunk = chunkAroundLine({ text, languageId: languageOf(file), uri: name }, name, 32);
    if (chunk) ring = addRingChunk(ring, chunk);
  }
  return ring;
}

function report(
  file: string, steps: readonly EditStep[], outcomes: readonly Replayed[], ready: EngineReady, settings: CompletionSettings,
  pace: string, ringChunks: number, print: Print,
): object {
  const perKeystroke: number[] = [];
  const perCall: number[] = [];
  const providerMs: number[] = [];
  const syncMs: number[] = [];
  let zeroCall = 0;
  let stream = 0;
  let shown = 0;
  let reused = 0;
  let promptTokens = 0;
  for (const { outcome, shown: wasShown, providerMs: ms } of outcomes) {
    const result = outcome?.result ?? null;
    perKeystroke.push(result?.prefix.prefilledTokens ?? 0);
    if (outcome !== null) syncMs.push(outcome.syncMs);
    if (result !== null) {
      perCall.push(result.prefix.prefilledTokens);
      reused += result.prefix.reusedTokens;
      promptTokens += result.prefix.promptTokens;
    }
    if (!wasShown || outcome === null) continue;
    shown++;
    providerMs.push(ms);
    if (outcome.source !== 'model') zeroCall++;
    if (outcome.source === 'stream') stream++;
  }
  const chars = predictedShare(steps, outcomes);
  const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
  const r = {
    file: path.basename(file), keystrokes: steps.length, pace, ringChunks, suggestionsShown: shown, modelCalls: perCall.length,
    zeroCallShare: round(shown > 0 ? zeroCall / shown : 0), streamReuseShare: round(shown > 0 ? stream / shown : 0),
    predictedCharShare: round(chars.typed > 0 ? chars.predicted / chars.typed : 0),
    reprefilledPerKeystroke: { p50: percentile(perKeystroke, 0.5), p95: percentile(perKeystroke, 0.95) },
    reprefilledPerModelCall: { p50: percentile(perCall, 0.5), p95: percentile(perCall, 0.95) },
    prefixReuse: round(promptTokens > 0 ? reused / promptTokens : null),
    providerMs: { p50: round(percentile(providerMs, 0.5)), p90: round(percentile(providerMs, 0.9)) },
    mainThreadMsPerKeystroke: { p50: round(percentile(syncMs, 0.5)), p95: round(percentile(syncMs, 0.95)), max: round(syncMs.length ? Math.max(...syncMs) : null) },
    strategy: ready.strategy, layout: settings.layout,
  };
  print(`${r.keystrokes} keystrokes over ${r.file} (${pace}): ${r.modelCalls} model calls, ${r.suggestionsShown} suggestions shown (${Math.round(100 * (r.zeroCallShare ?? 0))}% with no model call, ${Math.round(100 * (r.streamReuseShare ?? 0))}% from the generation in flight)`);
  print(`typed characters a shown suggestion had predicted: ${Math.round(100 * (r.predictedCharShare ?? 0))}% of ${chars.typed}`);
  print(`re-prefilled tokens per keystroke p50/p95: ${r.reprefilledPerKeystroke.p50}/${r.reprefilledPerKeystroke.p95}; per model call ${r.reprefilledPerModelCall.p50}/${r.reprefilledPerModelCall.p95}; prefix reuse ${r.prefixReuse}`);
  print(`provider time p50/p90: ${r.providerMs.p50}/${r.providerMs.p90} ms; caller-thread time per keystroke p50/p95/max: ${r.mainThreadMsPerKeystroke.p50}/${r.mainThreadMsPerKeystroke.p95}/${r.mainThreadMsPerKeystroke.max} ms`);
  return r;
}

function languageOf(file: string): string {
  const ext = path.extname(file);
  return ext === '.py' ? 'python' : ext === '.ts' ? 'typescript' : ext === '.js' ? 'javascript' : 'plaintext';
}
