// The inline completion provider: copies the editor state into a plain snapshot, asks the CompletionService
// (suggestion cache, stream reuse, engine, post-processing) and turns the answer into ghost text. VS Code's
// cancellation token is passed through: it stops this keystroke's wait; the service decides whether the generation
// goes on for the next keystroke to adopt (docs/architecture.md §5).
import * as vscode from 'vscode';
import type { CompletionOutcome, CompletionService } from '../completion/service';

export interface ProviderHooks {
  /** Whether to complete in this document at all (enable, languages, globs, paused). */
  allowed(document: vscode.TextDocument, manual: boolean): boolean;
  served(outcome: CompletionOutcome, latencyMs: number): void;
  failed(err: Error): void;
}

export class InlineProvider implements vscode.InlineCompletionItemProvider {
  lastShown: string | undefined;

  constructor(private readonly service: CompletionService, private readonly hooks: ProviderHooks) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument, position: vscode.Position, context: vscode.InlineCompletionContext, token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const manual = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
    if (!this.hooks.allowed(document, manual)) return undefined;
    const started = performance.now();
    let outcome: CompletionOutcome | null;
    try {
      const snapshot = { text: document.getText(), languageId: document.languageId, uri: document.uri.toString() };
      outcome = await this.service.complete(snapshot, { line: position.line, character: position.character }, manual, token);
    } catch (err) {
      this.hooks.failed(err as Error);
      return undefined;
    }
    if (outcome === null || token.isCancellationRequested) return undefined;
    this.hooks.served(outcome, performance.now() - started);
    if (outcome.text === null) return undefined;
    const item = this.item(document, position, outcome.text, context.selectedCompletionInfo);
    if (item) this.lastShown = outcome.text;
    return item ? [item] : undefined;
  }

  /**
   * With the suggest widget open, VS Code shows an item only if it extends the selected suggestion and uses
   * its range (completion.md §8); otherwise the ghost text is inserted at the cursor.
   */
  private item(document: vscode.TextDocument, position: vscode.Position, text: string, selected: vscode.SelectedCompletionInfo | undefined): vscode.InlineCompletionItem | undefined {
    if (!selected) return new vscode.InlineCompletionItem(text, new vscode.Range(position, position));
    const typed = document.getText(new vscode.Range(selected.range.start, position));
    const full = typed + text;
    return full.startsWith(selected.text) ? new vscode.InlineCompletionItem(full, selected.range) : undefined;
  }
}
