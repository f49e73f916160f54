// Select Models: the quick pick that writes simsd.model.* (the embedded pair, or local SDAR folders). Which pair
// the engine then loads is settings.ts's modelPair.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

/** Quick pick: the embedded pair, or local folders. Returns true when the settings changed. */
export async function selectModels(): Promise<boolean> {
  const pick = await vscode.window.showQuickPick([
    { label: 'Embedded pair', description: 'the tiny draft + target shipped with the extension (works offline)', value: 'embedded' },
    { label: 'Local SDAR folders…', description: 'a target (and optionally a draft) checkpoint or converted folder', value: 'local' },
  ], { title: 'SimSD: Select Models' });
  if (!pick) return false;
  const config = vscode.workspace.getConfiguration('simsd');
  if (pick.value === 'embedded') {
    await config.update('model.target', '', vscode.ConfigurationTarget.Global);
    await config.update('model.draft', '', vscode.ConfigurationTarget.Global);
    return true;
  }
  const target = await pickFolder('Target model folder (config.json + safetensors, or a converted folder)');
  if (!target) return false;
  const draft = await pickFolder('Draft model folder (Cancel for none: target-only decoding)');
  await config.update('model.target', target, vscode.ConfigurationTarget.Global);
  await config.update('model.draft', draft ?? '', vscode.ConfigurationTarget.Global);
  return true;
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
