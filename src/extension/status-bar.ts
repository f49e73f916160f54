// The status bar item (completion.md §9): device and speed at a glance, details in the tooltip, a click opens
// the command menu. Item id `simsd.status` (DOM id `simsd.simsd.simsd.status` in the e2e test).
import * as vscode from 'vscode';
import type { EngineReady } from '../protocol/messages';
import type { RemoteReady } from '../remote/client';
import type { StatsSnapshot } from '../completion/stats';

export type EngineState =
  | { readonly kind: 'loading'; readonly detail: string }
  | { readonly kind: 'ready'; readonly ready: EngineReady }
  | { readonly kind: 'remote'; readonly remote: RemoteReady }
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'disabled' };

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('simsd.status', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'SimSD';
    this.item.command = 'simsd.showMenu';
    this.item.show();
  }

  /** `offLanguage`: the active editor's language when completions are off for it. */
  render(state: EngineState, stats: StatsSnapshot, generating: boolean, offLanguage: string | null = null): void {
    this.item.text = offLanguage !== null && state.kind === 'ready' ? `$(circle-slash) SimSD off for ${offLanguage}` : text(state, stats, generating);
    this.item.tooltip = tooltip(state, stats, offLanguage);
    this.item.backgroundColor = state.kind === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

/** The target's name without its role: `JetLM/SDAR-8B-Chat`, or `embedded` for the built-in pair. */
function modelLabel(target: string): string {
  return target.startsWith('embedded') ? 'embedded' : target.replace(/ \((target|draft)\)$/, '');
}

function device(ready: EngineReady): string {
  return ready.executionProvider === 'webgpu' ? 'WebGPU' : 'CPU';
}

function text(state: EngineState, s: StatsSnapshot, generating: boolean): string {
  switch (state.kind) {
    case 'loading': return `$(loading~spin) SimSD ${state.detail}`;
    case 'error': return '$(error) SimSD error';
    case 'disabled': return '$(circle-slash) SimSD off';
    case 'remote': {
      const speed = s.lastTokPerS === null ? 'ready' : `${s.lastTokPerS.toFixed(0)} tok/s`;
      const latency = s.latencyMs.p50 === null ? Math.round(state.remote.latencyMs) : Math.round(s.latencyMs.p50);
      return `${generating ? '$(loading~spin)' : '$(cloud)'} SimSD ${speed} · remote ${latency} ms · ${state.remote.model}`;
    }
    case 'ready': {
      const icon = generating ? '$(loading~spin)' : '$(sparkle)';
      const model = modelLabel(state.ready.target);
      if (s.lastTokPerS === null) return `${icon} SimSD ready · ${model} · ${device(state.ready)}`;
      const accept = s.lastAcceptLength === null ? '' : ` · ${s.lastAcceptLength.toFixed(1)}/verify`;
      const hits = s.served > 0 ? ` · ${Math.round((100 * s.zeroCall) / s.served)}% cached` : '';
      return `${icon} SimSD ${s.lastTokPerS.toFixed(0)} tok/s${accept}${hits} · ${model} · ${device(state.ready)}`;
    }
  }
}

function tooltip(state: EngineState, s: StatsSnapshot, offLanguage: string | null): vscode.MarkdownString {
  const lines: string[] = ['**SimSD** — diffusion code completion', ''];
  if (offLanguage !== null) lines.push(`Completions are off for ${offLanguage} (simsd.enable, simsd.enabledLanguages or simsd.disabledGlobs).`, '');
  if (state.kind === 'error') lines.push(`Error: ${state.message}`, '');
  if (state.kind === 'remote') {
    const r = state.remote;
    lines.push(`Remote: ${r.model} at ${r.baseUrl} (${r.server}; fill-in-the-middle ${r.fim ? 'on' : 'off'})`,
      `Connected in ${Math.round(r.latencyMs)} ms; tokens/s from the server's usage counts`, '');
  }
  if (state.kind === 'ready') {
    const r = state.ready;
    lines.push(`Models: ${r.target}${r.draft ? ` + draft ${r.draft}` : ''}`, `Device: ${device(r)} (${r.providerReason})`,
      `Strategy: ${s.lastStrategy ?? r.strategy} (auto chose ${r.strategy} at load)`, `Loaded in ${(r.loadMs / 1000).toFixed(1)} s`, '');
  }
  const ms = (v: number | null) => (v === null ? '–' : `${Math.round(v)} ms`);
  lines.push(
    `Suggestions shown: ${s.served} (${s.zeroCall} with no model call), model calls: ${s.modelCalls}`,
    `Latency to ghost text p50/p90: ${ms(s.latencyMs.p50)} / ${ms(s.latencyMs.p90)}`,
    `Re-prefilled tokens p50/p95: ${s.reprefilled.p50 ?? '–'} / ${s.reprefilled.p95 ?? '–'}`,
    `Prefix-cache reuse: ${s.prefixReuse === null ? '–' : `${Math.round(100 * s.prefixReuse)}%`}`,
    `Last completion: ${s.lastTokPerS === null ? '–' : `${s.lastTokPerS.toFixed(1)} tok/s`}, accepted per target pass: ${s.lastAcceptLength?.toFixed(2) ?? '–'}`,
    '', 'Click for commands.',
  );
  return new vscode.MarkdownString(lines.join('  \n'));
}
