// Commands: Generate Code (instruction → chat prompt → code at the cursor, with progress and Cancel), Trigger
// Completion, Toggle, Select Models, Show Log, Copy Debug Info, and the status-bar menu.
import * as vscode from 'vscode';
import { extractCode } from '../completion/chat-answer';
import type { CompletionEngine } from '../completion/service';
import { completionSettings, type Settings } from './settings';

export interface CommandContext {
  /** Whoever answers now (the engine once ready, or the remote server); null while loading. */
  readonly backend: () => CompletionEngine | null;
  readonly settings: () => Settings;
  readonly log: vscode.OutputChannel;
  readonly debugInfo: () => object;
  readonly setGenerating: (on: boolean) => void;
  readonly toggle: () => boolean;                 // returns the new enabled state
  readonly selectModels: () => Promise<void>;
  readonly setHubToken: () => Promise<void>;
  readonly setRemoteApiKey: () => Promise<void>;
  readonly activeLanguage: () => string | null;   // the language of the active editor, for per-language enablement
}

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  return [
    // An instruction as the argument skips the input box (keybindings with args, tests).
    vscode.commands.registerCommand('simsd.generateCode', (instruction?: unknown) => generateCode(ctx, typeof instruction === 'string' ? instruction : undefined)),
    vscode.commands.registerCommand('simsd.triggerCompletion', () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger')),
    vscode.commands.registerCommand('simsd.toggle', () => {
      const on = ctx.toggle();
      void vscode.window.showInformationMessage(`SimSD completions ${on ? 'enabled' : 'disabled'}.`);
    }),
    vscode.commands.registerCommand('simsd.selectModels', () => ctx.selectModels()),
    vscode.commands.registerCommand('simsd.setHubToken', () => ctx.setHubToken()),
    vscode.commands.registerCommand('simsd.setRemoteApiKey', () => ctx.setRemoteApiKey()),
    vscode.commands.registerCommand('simsd.showLog', () => ctx.log.show(true)),
    vscode.commands.registerCommand('simsd.copyDebugInfo', async () => {
      await vscode.env.clipboard.writeText(JSON.stringify(ctx.debugInfo(), null, 2));
      void vscode.window.showInformationMessage('SimSD: debug info copied to the clipboard.');
    }),
    vscode.commands.registerCommand('simsd.toggleLanguage', () => toggleLanguage(ctx.activeLanguage())),
    vscode.commands.registerCommand('simsd.showMenu', async () => {
      const language = ctx.activeLanguage();
      const languageOn = language === null || vscode.workspace.getConfiguration('simsd', { languageId: language }).get<boolean>('enable') !== false;
      const items = [
        { label: '$(wand) Generate Code', command: 'simsd.generateCode' },
        { label: '$(sparkle) Trigger Completion', command: 'simsd.triggerCompletion' },
        { label: '$(circle-slash) Toggle Completions', command: 'simsd.toggle' },
        ...(language === null ? [] : [{ label: `$(symbol-namespace) ${languageOn ? 'Disable' : 'Enable'} Completions for ${language}`, command: 'simsd.toggleLanguage' }]),
        { label: '$(database) Select Models', command: 'simsd.selectModels' },
        { label: '$(output) Show Log', command: 'simsd.showLog' },
        { label: '$(copy) Copy Debug Info', command: 'simsd.copyDebugInfo' },
      ];
      const pick = await vscode.window.showQuickPick(items, { title: 'SimSD' });
      if (pick) await vscode.commands.executeCommand(pick.command);
    }),
  ];
}

async function generateCode(ctx: CommandContext, given?: string): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const engine = ctx.backend();
  if (!editor) return void vscode.window.showWarningMessage('SimSD: open a file to generate code into.');
  if (!engine) return void vscode.window.showWarningMessage('SimSD: the models are still loading; try again in a moment.');
  const instruction = given ?? await vscode.window.showInputBox({ title: 'SimSD: Generate Code', prompt: 'What should the code do?', placeHolder: 'e.g. a function that parses ISO dates' });
  if (!instruction) return;
  const document = editor.document;
  const selection = editor.selection;
  const around = new vscode.Range(Math.max(0, selection.start.line - 40), 0, selection.start.line, selection.start.character);
  const context = selection.isEmpty ? document.getText(around) : document.getText(selection);
  const settings = ctx.settings();
  const version = document.version;
  let cancelled = false;
  ctx.setGenerating(true);
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'SimSD: generating…', cancellable: true },
      (progress, token) => {
        token.onCancellationRequested(() => { cancelled = true; });
        return engine.request({
          kind: 'generate', fileKey: '', prompt: { kind: 'chat', instruction, context, languageId: document.languageId },
          params: { ...completionSettings(settings, null).decode, maxTokens: settings.generate.maxTokens },
        }, { cancellation: token, onProgress: (text) => progress.report({ message: `${text.length} characters` }) });
      },
    );
    if (result === null || cancelled) return;
    const code = extractCode(result.text);
    if (code.trim() === '') return void vscode.window.showWarningMessage('SimSD: the model produced no code.');
    if (document.isClosed || document.version !== version) {
      // The text moved while the model ran: inserting at the old position could land anywhere.
      await vscode.env.clipboard.writeText(code);
      return void vscode.window.showInformationMessage('SimSD: the document changed during generation; the code is on the clipboard.');
    }
    await editor.edit((edit) => (selection.isEmpty ? edit.insert(selection.active, code) : edit.replace(selection, code)));
    ctx.log.appendLine(`generate: ${result.tokenIds.length} tokens, ${result.stats.tokPerS.toFixed(1)} tok/s, ${result.stats.strategy}`);
  } catch (err) {
    void vscode.window.showErrorMessage(`SimSD: generation failed: ${(err as Error).message}`);
  } finally {
    ctx.setGenerating(false);
  }
}

/** Turns `simsd.enable` off (or back on) for one language, as a language-specific user setting. */
async function toggleLanguage(language: string | null): Promise<void> {
  if (language === null) return;
  const config = vscode.workspace.getConfiguration('simsd', { languageId: language });
  const on = config.get<boolean>('enable') !== false;
  await config.update('enable', !on, vscode.ConfigurationTarget.Global, true);
  void vscode.window.showInformationMessage(`SimSD completions ${on ? 'disabled' : 'enabled'} for ${language}.`);
}
