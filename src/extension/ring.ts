// Collects ring chunks (docs/completion.md §2.4): code the user recently had in view in other places, put ahead of
// the prompt as cross-file context. Events: switching away from an editor (the area around its cursor), a cursor
// jump of more than 32 lines (the area left), a save (the area around the cursor), and new clipboard text (read when
// one of those happens). The chunk logic is completion/ring-chunks.ts; this file only listens to VS Code.
import * as vscode from 'vscode';
import type { RingChunk } from '../protocol/request';
import { addRingChunk, chunkAroundLine, chunkFromText, isCursorJump } from '../completion/ring-chunks';

export class RingCollector implements vscode.Disposable {
  private ring: readonly RingChunk[] = [];
  private readonly lastLine = new Map<string, number>();
  private lastClipboard = '';
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly changed: (ring: readonly RingChunk[]) => void, private readonly allowed: (doc: vscode.TextDocument) => boolean) {
    let previous = vscode.window.activeTextEditor;
    this.disposables = [
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (previous) this.addAround(previous.document, previous.selection.active.line);
        previous = editor;
        void this.readClipboard();
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        const doc = e.textEditor.document;
        const line = e.selections[0]?.active.line ?? 0;
        const key = doc.uri.toString();
        const from = this.lastLine.get(key);
        this.lastLine.set(key, line);
        if (from !== undefined && isCursorJump(from, line)) {
          this.addAround(doc, from);
          void this.readClipboard();
        }
      }),
      vscode.workspace.onDidSaveTextDocument((doc) => {
        const editor = vscode.window.visibleTextEditors.find((e) => e.document === doc);
        if (editor) this.addAround(doc, editor.selection.active.line);
      }),
    ];
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private addAround(doc: vscode.TextDocument, line: number): void {
    if (doc.isClosed || !this.allowed(doc)) return;
    const snapshot = { text: doc.getText(), languageId: doc.languageId, uri: doc.uri.toString() };
    this.add(chunkAroundLine(snapshot, vscode.workspace.asRelativePath(doc.uri), line));
  }

  private async readClipboard(): Promise<void> {
    const text = await vscode.env.clipboard.readText();
    if (text === this.lastClipboard || text.length > 64 * 1024) return;
    this.lastClipboard = text;
    const languageId = vscode.window.activeTextEditor?.document.languageId ?? 'plaintext';
    this.add(chunkFromText('clipboard', languageId, text));
  }

  private add(chunk: RingChunk | null): void {
    if (chunk === null) return;
    const next = addRingChunk(this.ring, chunk);
    if (next === this.ring) return;
    this.ring = next;
    this.changed(next);
  }
}
