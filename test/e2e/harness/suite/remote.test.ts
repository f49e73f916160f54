// The remote backend in the real extension host: `simsd.backend: remote` pointed at a `simsd serve` that
// harness/run.sh started on loopback (SIMSD_E2E_REMOTE_URL; the embedded pair behind it). Ghost text comes from the
// server and Tab (inlineSuggest.commit) inserts it; Generate Code inserts code through chat completions.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { getApi, READY_TIMEOUT_MS, sleep } from './helpers';

const URL = process.env.SIMSD_E2E_REMOTE_URL ?? '';

async function until(what: string, ms: number, pred: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(200);
  }
}

describe('remote backend', () => {
  before(function () { if (URL === '') this.skip(); });

  it('ghost text from the server, committed with Tab; Generate Code inserts code', async function () {
    this.timeout(READY_TIMEOUT_MS + 120000);
    const api = await getApi();
    const config = vscode.workspace.getConfiguration('simsd');
    await config.update('remote.url', URL, vscode.ConfigurationTarget.Global);
    await config.update('backend', 'remote', vscode.ConfigurationTarget.Global);
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? fs.mkdtempSync(path.join(os.tmpdir(), 'simsd-remote-'));
    const file = path.join(folder, 'remote.py');
    try {
      await until('the remote backend', 60000, () => api.backend().kind === 'remote' && api.backend().ready);
      fs.writeFileSync(file, 'class Point:\n    def __init__(self, x, y):\n        self.\n');
      const doc = await vscode.workspace.openTextDocument(file);
      const editor = await vscode.window.showTextDocument(doc);
      const pos = new vscode.Position(2, doc.lineAt(2).text.length);
      editor.selection = new vscode.Selection(pos, pos);
      const before = doc.getText();
      for (let i = 0; i < 20 && doc.getText() === before; i++) {
        await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
        await sleep(700);
        await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
      }
      assert.notStrictEqual(doc.getText(), before, `no completion from ${URL} was committed; stats ${JSON.stringify(api.stats())}`);
      const inserted = doc.getText().slice(doc.offsetAt(pos), doc.offsetAt(pos) + doc.getText().length - before.length);
      assert.strictEqual(inserted, api.lastCompletion()?.text, 'the committed text is the completion the server gave');
      console.log(`    remote: inserted ${JSON.stringify(inserted)}`);

      const end = doc.lineAt(doc.lineCount - 1).range.end;
      editor.selection = new vscode.Selection(end, end);
      const beforeGenerate = doc.getText();
      await vscode.commands.executeCommand('simsd.generateCode', 'return the larger of a and b');
      await until('Generate Code', 90000, () => doc.getText() !== beforeGenerate);
      assert.ok(doc.getText().length > beforeGenerate.length, 'code was inserted');
    } finally {
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
      fs.rmSync(file, { force: true });
      await config.update('backend', undefined, vscode.ConfigurationTarget.Global);
      await config.update('remote.url', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
