// Select Models: the quick pick that writes simsd.model.*. Choices: the embedded pair (offline), a pair preset from
// the Hugging Face Hub, any Hub repo, or local folders. A download runs `simsd pull` (dist/cli.js) in a child process
// — the network, the sha256 and the disk work stay off the extension host's thread — shown as a cancellable progress
// notification (Cancel keeps the partial files: the next pull resumes them). The token comes from VS Code's secret
// storage and reaches the child as HF_TOKEN, never on its command line or in settings. The engine then converts the
// checkpoints (its progress shows in the same notification) and switches to them. Nothing touches the network
// unless the user picks a download.
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { PAIR_PRESETS } from '../hub/presets';

export const HUB_TOKEN_KEY = 'simsd.hubToken';
export const REMOTE_KEY = 'simsd.remoteApiKey';

export interface ModelsContext {
  readonly extensionPath: string;
  readonly secrets: vscode.SecretStorage;
  readonly hubEndpoint: () => string;      // simsd.hub.endpoint ('' = the CLI's default)
  readonly log: (line: string) => void;
  /** Resolves when the engine started after the settings change is ready (true) or failed (false); reports progress. */
  readonly engineSwitch: (report: (detail: string) => void) => Promise<boolean>;
}

interface Choice extends vscode.QuickPickItem {
  readonly value: 'embedded' | 'local' | 'repo' | { readonly draft: string; readonly target: string };
}

/** Returns true when the settings changed. */
export async function selectModels(ctx: ModelsContext): Promise<boolean> {
  const choices: Choice[] = [
    { label: 'Embedded pair', description: 'the tiny draft + target shipped with the extension (works offline)', value: 'embedded' },
    ...PAIR_PRESETS.map((p): Choice => ({
      label: `$(cloud-download) ${p.label}`, description: `${p.downloadGB} GB download`, detail: `${p.draft} + ${p.target} · ${p.note}`,
      value: { draft: p.draft, target: p.target },
    })),
    { label: '$(cloud-download) A Hugging Face repo…', description: 'a target (and optionally a draft) SDAR checkpoint on the Hub', value: 'repo' },
    { label: 'Local SDAR folders…', description: 'a target (and optionally a draft) checkpoint or converted folder', value: 'local' },
  ];
  const pick = await vscode.window.showQuickPick(choices, { title: 'SimSD: Select Models', matchOnDetail: true });
  if (!pick) return false;
  const config = vscode.workspace.getConfiguration('simsd');
  /** Writes the pair; false when it is what the settings already say (no engine restart follows). */
  const write = async (target: string, draft: string): Promise<boolean> => {
    if (config.get('model.target') === target && config.get('model.draft') === draft) return false;
    await config.update('model.target', target, vscode.ConfigurationTarget.Global);
    await config.update('model.draft', draft, vscode.ConfigurationTarget.Global);
    return true;
  };
  if (pick.value === 'embedded') {
    await write('', '');
    return true;
  }
  if (pick.value === 'local') {
    const target = await pickFolder('Target model folder (config.json + safetensors, or a converted folder)');
    if (!target) return false;
    const draft = await pickFolder('Draft model folder (Cancel for none: target-only decoding)');
    await write(target, draft ?? '');
    return true;
  }
  const repos = pick.value === 'repo' ? await askRepos() : pick.value;
  if (repos === null) return false;
  try {
    return await downloadAndSwitch(ctx, repos, write);
  } catch (err) {
    ctx.log(`download failed: ${(err as Error).message}`);
    void vscode.window.showErrorMessage(`SimSD: ${(err as Error).message}`);
    return false;
  }
}

/** Stores the Hub token in VS Code's secret storage (an empty answer removes it). */
export async function setHubToken(secrets: vscode.SecretStorage): Promise<void> {
  const token = await vscode.window.showInputBox({
    title: 'SimSD: Hugging Face token', prompt: 'Used for gated repos; kept in VS Code\'s secret storage. Leave empty to remove it.',
    password: true, ignoreFocusOut: true, placeHolder: 'hf_…',
  });
  if (token === undefined) return;
  if (token.trim() === '') await secrets.delete(HUB_TOKEN_KEY);
  else await secrets.store(HUB_TOKEN_KEY, token.trim());
  void vscode.window.showInformationMessage(token.trim() === '' ? 'SimSD: Hugging Face token removed.' : 'SimSD: Hugging Face token saved.');
}

/** Stores the remote server's API key in VS Code's secret storage; true when it changed. */
export async function setRemoteApiKey(secrets: vscode.SecretStorage): Promise<boolean> {
  const key = await vscode.window.showInputBox({
    title: 'SimSD: remote API key', prompt: 'Sent as "Authorization: Bearer" to simsd.remote.url; kept in VS Code\'s secret storage. Leave empty to remove it.',
    password: true, ignoreFocusOut: true,
  });
  if (key === undefined) return false;
  if (key.trim() === '') await secrets.delete(REMOTE_KEY);
  else await secrets.store(REMOTE_KEY, key.trim());
  return true;
}

async function askRepos(): Promise<{ draft: string; target: string } | null> {
  const valid = (v: string) => (/^[\w.-]+\/[\w.-]+$/.test(v.trim()) ? null : 'an org/name repo id, e.g. JetLM/SDAR-1.7B-Chat');
  const target = await vscode.window.showInputBox({ title: 'SimSD: target repo on the Hub', placeHolder: 'JetLM/SDAR-8B-Chat', validateInput: valid, ignoreFocusOut: true });
  if (!target) return null;
  const draft = await vscode.window.showInputBox({
    title: 'SimSD: draft repo (empty: target-only decoding)', placeHolder: 'JetLM/SDAR-1.7B-Chat', ignoreFocusOut: true,
    validateInput: (v) => (v.trim() === '' ? null : valid(v)),
  });
  if (draft === undefined) return null;
  return { target: target.trim(), draft: draft.trim() };
}

async function downloadAndSwitch(
  ctx: ModelsContext, repos: { draft: string; target: string }, write: (target: string, draft: string) => Promise<boolean>,
): Promise<boolean> {
  const token = await ctx.secrets.get(HUB_TOKEN_KEY);
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'SimSD', cancellable: true }, async (progress, cancel) => {
    const paths: Record<string, string> = {};
    for (const [role, repo] of [['draft', repos.draft], ['target', repos.target]] as const) {
      if (repo === '') continue;
      progress.report({ message: `downloading ${repo}…` });
      const args = ['pull', repo, '--json', '--progress-json', ...(ctx.hubEndpoint() ? ['--endpoint', ctx.hubEndpoint()] : [])];
      const result = await runCli(ctx, args, token, cancel, (p) => progress.report({ message: `downloading ${repo}: ${describe(p)}` }));
      if (result === null) {
        void vscode.window.showInformationMessage(`SimSD: the download of ${repo} stopped; choosing it again resumes where it stopped.`);
        return false;
      }
      paths[role] = String((result as { path?: unknown }).path);
      ctx.log(`pulled ${repo} into ${paths[role]}`);
    }
    progress.report({ message: 'converting and loading the models…' });
    const switched = ctx.engineSwitch((detail) => progress.report({ message: detail }));
    const ok = (await write(paths.target, paths.draft ?? '')) ? await switched : true;
    if (ok) void vscode.window.showInformationMessage(`SimSD: now using ${repos.target}${repos.draft ? ` with the draft ${repos.draft}` : ''}.`);
    return true;
  });
}

interface PullProgress { file?: string; bytes?: number; totalBytes?: number; bytesPerSecond?: number; etaSeconds?: number }

function describe(p: PullProgress): string {
  const gb = (n: number | undefined) => ((n ?? 0) / 1e9).toFixed(2);
  const rate = p.bytesPerSecond ? ` · ${(p.bytesPerSecond / 1e6).toFixed(1)} MB/s` : '';
  const eta = p.etaSeconds !== undefined && Number.isFinite(p.etaSeconds) ? ` · ${Math.ceil(p.etaSeconds)} s left` : '';
  return `${gb(p.bytes)} of ${gb(p.totalBytes)} GB${rate}${eta}`;
}

/**
 * Runs `dist/cli.js ARGS` in a child process: one `{"progress": …}` JSON line per stderr line, the result as the last
 * stdout line. Resolves null when cancelled (the child is stopped; what it wrote stays for a resume); rejects with the
 * CLI's one-line error otherwise.
 */
function runCli(ctx: ModelsContext, args: string[], token: string | undefined, cancel: vscode.CancellationToken, onProgress: (p: PullProgress) => void): Promise<object | null> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...(token ? { HF_TOKEN: token } : {}) };
    const child = fork(path.join(ctx.extensionPath, 'dist', 'cli.js'), args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let stdout = '';
    let stderrLine = '';
    let lastError = '';
    let cancelled = false;
    const stop = cancel.onCancellationRequested(() => { cancelled = true; child.kill('SIGTERM'); });
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => {
      stderrLine += d.toString();
      let nl: number;
      while ((nl = stderrLine.indexOf('\n')) >= 0) {
        const line = stderrLine.slice(0, nl).trim();
        stderrLine = stderrLine.slice(nl + 1);
        if (line.startsWith('{"progress"')) {
          try { onProgress((JSON.parse(line) as { progress: PullProgress }).progress); } catch { ctx.log(`unreadable progress line: ${line}`); }
        } else if (line !== '') {
          lastError = line;
          ctx.log(`simsd ${args[0]}: ${line}`);
        }
      }
    });
    child.on('error', (err) => { stop.dispose(); reject(err); });
    child.on('exit', (code) => {
      stop.dispose();
      if (cancelled) return resolve(null);
      if (code !== 0) return reject(new Error(lastError.replace(/^simsd: /, '') || `simsd ${args[0]} exited with code ${code}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as object);
      } catch {
        reject(new Error(`simsd ${args[0]} printed no result`));
      }
    });
  });
}

async function pickFolder(title: string): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, title, openLabel: 'Use this folder' });
  const dir = picked?.[0]?.fsPath;
  if (dir && !fs.existsSync(path.join(dir, 'config.json'))) {
    void vscode.window.showErrorMessage(`SimSD: ${dir} has no config.json; pick an SDAR checkpoint or a converted folder.`);
    return undefined;
  }
  return dir;
}
