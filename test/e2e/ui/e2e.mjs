// Approach A (testing.md §6.3): drives the code-server web UI with playwright-core + Debian Chromium.
// Run by ui/run.sh from a copy in $W (beside a node_modules link to $TOOLS/pw/node_modules), with system Node.
//
// env: W, PORT, CS_PID (code-server's process group), OUT (result.json, screenshots)
//      SIMSD_E2E_READY_TIMEOUT_S   status bar must show ready within this (default 180)
//      SIMSD_E2E_GHOST_TIMEOUT_S   each ghost text must appear within this (default 20; the first one per file 3×)
//      SIMSD_E2E_GENERATE_TIMEOUT_S  Generate Code must insert within this (default 180)
//      SIMSD_E2E_SHELL_TIMINGS     JSON with the runner's own timings, copied into result.json
//
// The completions come from a real model, so their text is not predictable. The checks assert that ghost text
// appears (non-blank), and that after Tab + Ctrl+S the file on disk holds exactly the ghost text that was shown,
// inserted at the cursor. Prints PASS/FAIL per check; ui/run.sh prints the summary line. Exit 0 only if all pass.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const W = process.env.W;
const PORT = process.env.PORT;
const CS_PID = Number(process.env.CS_PID || 0);
const OUT = process.env.OUT || path.join(W, 'out');
const READY_TIMEOUT_MS = Number(process.env.SIMSD_E2E_READY_TIMEOUT_S || 180) * 1000;
const GHOST_TIMEOUT_MS = Number(process.env.SIMSD_E2E_GHOST_TIMEOUT_S || 20) * 1000;
const GENERATE_TIMEOUT_MS = Number(process.env.SIMSD_E2E_GENERATE_TIMEOUT_S || 180) * 1000;
const STATUS_SELECTOR = '[id="simsd.simsd.simsd.status"]';
const INSTRUCTION = 'return the larger of a and b';

// The workspace files ui/run.sh writes (lib.sh e2e_workdir): the cursor goes to the end of `line` (1-based),
// then keys are typed one at a time (typingKeys(); `typed` is the fallback). Keep these in step with lib.sh.
const FILES = [
  { key: 'py', name: 'sample.py', line: 3, typed: 'x =' },
  { key: 'ts', name: 'sample.ts', line: 2, typed: 'a +' },
];

const CHECKS = [
  'workbench',
  'status-ready',
  ...FILES.flatMap((f) => [`ghost-warmup-${f.key}`, `keybinding-${f.key}`, `ghost-typing-${f.key}`, `accept-${f.key}`]),
  'status-after',
  'generate-code',
  'show-log',
  'hub-token',
  'pull-preset',
  'ghost-pulled',
];

const t0 = Date.now();
const since = () => Math.round(Date.now() - t0);
const log = (msg) => console.log(`[e2e +${(since() / 1000).toFixed(1)}s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nbsp = (s) => (s ?? '').replace(/\u00a0/g, ' ');

const result = {
  startedAt: new Date(t0).toISOString(),
  config: { readyTimeoutMs: READY_TIMEOUT_MS, ghostTimeoutMs: GHOST_TIMEOUT_MS, generateTimeoutMs: GENERATE_TIMEOUT_MS },
  shellTimings: safeJson(process.env.SIMSD_E2E_SHELL_TIMINGS),
  checks: [],
  timings: {},
  latencies: [],
  ghosts: {},
  memory: null,
  status: {},
  passed: 0,
  failed: 0,
};

function safeJson(s) {
  try { return s ? JSON.parse(s) : null; } catch { return s; }
}

fs.mkdirSync(OUT, { recursive: true });
let page;
let browser;

async function shot(name) {
  if (!page) return;
  await page.screenshot({ path: path.join(OUT, name) }).catch((e) => log(`screenshot ${name} failed: ${e.message}`));
}

async function check(name, fn) {
  const start = Date.now();
  try {
    const detail = await fn();
    result.checks.push({ name, ok: true, ms: Date.now() - start, detail: detail ?? null });
    log(`PASS ${name}${detail ? ` ${JSON.stringify(detail).slice(0, 300)}` : ''}`);
    return true;
  } catch (e) {
    result.checks.push({ name, ok: false, ms: Date.now() - start, error: String(e?.message ?? e) });
    log(`FAIL ${name}: ${String(e?.message ?? e).split('\n')[0]}`);
    await shot(`failure-${name}.png`);
    return false;
  }
}

/** Like check(), but an abort: the run cannot go on without it. */
async function must(name, fn) {
  if (!(await check(name, fn))) throw new Error(`required check ${name} failed`);
}

// --- page-side helpers, installed before any page script runs --------------------------------------------------
function pageHelpers() {
  const nb = (s) => (s ?? '').replace(/\u00a0/g, ' ');
  const visible = (e) => !!e && e.getClientRects().length > 0 && e.getBoundingClientRect().height > 0;
  const top = (e) => parseFloat(e.style.top) || 0;
  /** The main editor the user sees (not the Output panel's). */
  const activeEditor = () => {
    const eds = [...document.querySelectorAll('.part.editor .monaco-editor')].filter(visible);
    return eds.find((e) => e.classList.contains('focused')) ?? eds[0] ?? null;
  };
  /**
   * The ghost text shown in the active editor: the inline part (`.ghost-text-decoration` spans in the cursor line)
   * plus the further lines, rendered in a view zone as `.view-line`s holding `.ghost-text` spans.
   */
  const readGhost = () => {
    const ed = activeEditor();
    if (!ed) return '';
    const hidden = (e) => !!e.closest('.ghost-text-hidden');
    const inline = [...ed.querySelectorAll('.view-lines .ghost-text-decoration')]
      .filter((e) => !hidden(e))
      .map((e) => e.textContent)
      .join('');
    const zones = [...ed.querySelectorAll('.view-zones [monaco-view-zone]')]
      .filter((z) => visible(z) && z.querySelector('.ghost-text') && !hidden(z))
      .sort((a, b) => top(a) - top(b));
    const more = zones.flatMap((z) => [...z.querySelectorAll('.view-line')].sort((a, b) => top(a) - top(b)).map((l) => l.textContent));
    return nb(inline + more.map((l) => '\n' + l).join(''));
  };
  /** The active editor's visible lines in order, without any ghost text. */
  const readLines = () => {
    const ed = activeEditor();
    if (!ed) return [];
    return [...ed.querySelectorAll('.view-lines .view-line')]
      .sort((a, b) => top(a) - top(b))
      .map((l) => {
        const c = l.cloneNode(true);
        c.querySelectorAll('.ghost-text-decoration, .ghost-text, .ghost-text-decoration-preview').forEach((g) => g.remove());
        return nb(c.textContent);
      });
  };
  /**
   * Latency probe: a capturing keydown listener records performance.now() for `key`; a MutationObserver resolves
   * on the first non-blank ghost text after it. Awaited installation first, then the key, then the result.
   */
  const installProbe = (key, timeoutMs) => {
    const st = { keyAt: null, done: false };
    const onKey = (e) => { if (st.keyAt === null && e.key === key) st.keyAt = performance.now(); };
    window.addEventListener('keydown', onKey, true);
    st.promise = new Promise((resolve) => {
      let mo;
      let timer;
      const finish = (v) => {
        if (st.done) return;
        st.done = true;
        mo?.disconnect();
        clearTimeout(timer);
        window.removeEventListener('keydown', onKey, true);
        resolve(v);
      };
      const test = () => {
        if (st.keyAt === null) return;
        const g = readGhost();
        if (g.trim()) finish({ ms: Math.round(performance.now() - st.keyAt), ghost: g, keyEpochMs: Math.round(performance.timeOrigin + st.keyAt) });
      };
      mo = new MutationObserver(test);
      mo.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      timer = setTimeout(() => finish({ ms: -1, ghost: readGhost(), keyEpochMs: st.keyAt === null ? null : Math.round(performance.timeOrigin + st.keyAt) }), timeoutMs);
    });
    window.__simsdProbe = st;
  };
  /** Records every notification message seen from now on (a brief progress toast included). */
  const watchNotifications = () => {
    const seen = new Set();
    const scan = () => document.querySelectorAll('.notification-list-item-message').forEach((e) => seen.add(nb(e.textContent)));
    const mo = new MutationObserver(scan);
    mo.observe(document.body, { subtree: true, childList: true, characterData: true });
    scan();
    window.__simsdNotes = { seen, stop: () => mo.disconnect() };
  };
  window.__simsd = { readGhost, readLines, activeEditor, installProbe, watchNotifications };
}

const readGhost = () => page.evaluate(() => window.__simsd.readGhost());
const readLines = () => page.evaluate(() => window.__simsd.readLines());

async function waitGhost(timeoutMs, what) {
  try {
    await page.waitForFunction(() => window.__simsd.readGhost().trim().length > 0, null, { timeout: timeoutMs, polling: 50 });
  } catch {
    throw new Error(`no ghost text within ${timeoutMs} ms (${what})`);
  }
  return readGhost();
}

async function waitNoGhost(timeoutMs = 5000) {
  await page.waitForFunction(() => window.__simsd.readGhost().length === 0, null, { timeout: timeoutMs, polling: 50 }).catch(() => {
    throw new Error(`ghost text did not go away within ${timeoutMs} ms`);
  });
}

/** Sends a key under the latency probe; returns {ms, ghost, keyEpochMs}; ms -1 on a timeout. */
async function probeKey(key, send, timeoutMs) {
  await page.evaluate(({ key, timeoutMs }) => window.__simsd.installProbe(key, timeoutMs), { key, timeoutMs });
  await send();
  return page.evaluate(() => window.__simsdProbe.promise);
}

async function editorFocused() {
  return page.evaluate(() => !!document.activeElement?.closest('.part.editor .monaco-editor'));
}

/** F1, type the command title, pick exactly that row. closes: wait until the quick input is hidden. */
async function runCommand(title, { closes = true } = {}) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input').first();
  await input.waitFor({ state: 'visible', timeout: 10000 });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row').filter({
    has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) }),
  }).first();
  await row.waitFor({ state: 'visible', timeout: 10000 });
  await row.click();
  if (closes) await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10000 });
}

async function readDisk(file) {
  return fs.readFileSync(file, 'utf8');
}

/** Re-reads `file` every 100 ms until pred(text) or the timeout; returns the last text. */
async function pollDisk(file, pred, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  let text = await readDisk(file);
  while (!pred(text) && Date.now() < end) {
    await sleep(100);
    text = await readDisk(file);
  }
  return text;
}

async function statusText() {
  return nbsp(await page.locator(STATUS_SELECTOR).first().textContent({ timeout: 5000 })).trim();
}

const READY_RE = /tok\/s|ready/i;
const DEVICE_RE = /CPU|WebGPU/;
const ERROR_RE = /error/i;

// --- memory ---------------------------------------------------------------------------------------------------------
function procTable() {
  const rows = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      rows.push({ pid: Number(d), ppid: Number(rest[1]), pgid: Number(rest[2]), comm });
    } catch { /* gone */ }
  }
  return rows;
}
function descendants(rows, root) {
  const out = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop();
    for (const r of rows) if (r.ppid === p) { out.push(r); stack.push(r.pid); }
  }
  return out;
}
/** A short role for a process, from its command line (extension host, file watcher, tsserver…). */
function role(pid, comm) {
  let argv = [];
  try { argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean); } catch { return comm; }
  const line = argv.join(' ');
  const type = /--type=([\w-]+)/.exec(line);
  if (type) return type[1];
  for (const [re, name] of [[/tsserver/, 'tsserver'], [/jsonServerMain|json-language/, 'json-server'],
    [/code-server\/out\/node\/entry|\.bin\/code-server/, 'code-server']]) if (re.test(line)) return name;
  return argv[1] ? path.basename(argv[1]) : path.basename(argv[0] ?? comm);
}
function pssKiB(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}
function memory() {
  const rows = procTable();
  const cs = rows.filter((r) => r.pid === CS_PID || r.pgid === CS_PID);
  const csTree = new Map([...cs, ...descendants(rows, CS_PID)].map((r) => [r.pid, r]));
  const chrome = descendants(rows, process.pid);
  const sum = (list) => list.reduce((a, r) => a + pssKiB(r.pid), 0);
  const top = (list) => list.map((r) => ({ pid: r.pid, role: role(r.pid, r.comm), pssMiB: Math.round(pssKiB(r.pid) / 1024) }))
    .sort((a, b) => b.pssMiB - a.pssMiB);
  return {
    codeServer: { processes: csTree.size, pssMiB: Math.round(sum([...csTree.values()]) / 1024), byProcess: top([...csTree.values()]) },
    chromium: { processes: chrome.length, pssMiB: Math.round(sum(chrome) / 1024) },
  };
}

// --- the run ------------------------------------------------------------------------------------------------------
async function openFile(f) {
  await page.getByRole('treeitem', { name: f.name }).first().dblclick({ timeout: 30000 });
  await page.locator('.part.editor .tab.active', { hasText: f.name }).first().waitFor({ timeout: 30000 });
  await page.waitForFunction(() => !!window.__simsd.activeEditor()?.querySelector('.view-lines .view-line'), null, { timeout: 30000 });
  if (!(await editorFocused())) await page.locator('.part.editor .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+Home');
  for (let i = 1; i < f.line; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
}

/**
 * The keys to type: the start of the ghost text shown at warm-up (what a user accepting it key by key types; the
 * extension may answer from its suggestion cache), at most 3 characters of its first line, only characters that
 * no auto-closing pair or auto-indent reacts to, leaving a non-blank rest. Else the file's fixed fallback.
 */
function typingKeys(ghost, fallback) {
  const first = (ghost ?? '').split('\n')[0];
  let k = 0;
  while (k < Math.min(3, first.length) && /[A-Za-z0-9_ .,+\-*\/=<>;:!]/.test(first[k])) k++;
  while (k > 0 && !ghost.slice(k).trim()) k--;
  return k > 0 ? first.slice(0, k) : fallback;
}

async function fileFlow(f) {
  const file = path.join(W, 'ws', f.name);
  const original = await readDisk(file);
  const lines = original.split('\n');
  const lineText = lines[f.line - 1];
  const offset = lines.slice(0, f.line - 1).reduce((a, l) => a + l.length + 1, 0) + lineText.length;
  const g = (result.ghosts[f.key] = { typed: '' });
  const tOpen = Date.now();

  // Warm-up (pitfall §9.1): the inline controller is created lazily; trigger once from the palette and wait.
  await check(`ghost-warmup-${f.key}`, async () => {
    await openFile(f);
    await runCommand('Trigger Inline Suggestion');
    const ghost = await waitGhost(GHOST_TIMEOUT_MS * 3, 'palette trigger');
    g.warmup = ghost;
    result.timings[`firstGhost_${f.key}_msAfterOpen`] = Date.now() - tOpen;
    await shot(`1-ghost-${f.key}.png`);
    return { ghost };
  });

  // The profile's keybinding, at the warm-up position (a context that had a completion).
  await check(`keybinding-${f.key}`, async () => {
    if (!(await editorFocused())) throw new Error('editor lost focus');
    await page.keyboard.press('Escape');
    await waitNoGhost();
    const r = await probeKey('\\', () => page.keyboard.press('Alt+Backslash'), GHOST_TIMEOUT_MS);
    result.latencies.push({ file: f.key, kind: 'alt+\\', key: 'alt+\\', ...r });
    if (r.ms < 0) throw new Error(`alt+\\ gave no ghost text within ${GHOST_TIMEOUT_MS} ms`);
    return { ms: r.ms, ghost: r.ghost };
  });

  // Automatic trigger: Escape, then one key under the latency probe, for each key. A real model may have nothing
  // to say at some positions, so this passes when at least one key brought ghost text; misses are recorded.
  await check(`ghost-typing-${f.key}`, async () => {
    if (!(await editorFocused())) throw new Error('editor lost focus');
    const keys = typingKeys(g.warmup, f.typed);
    g.keys = keys;
    const ms = [];
    for (const ch of keys) {
      await page.keyboard.press('Escape');
      await waitNoGhost();
      const r = await probeKey(ch, () => page.keyboard.type(ch), GHOST_TIMEOUT_MS);
      g.typed += ch;
      result.latencies.push({ file: f.key, kind: 'typed', key: ch, ...r });
      ms.push(r.ms);
    }
    const typedLine = (await readLines())[f.line - 1];
    if (typedLine !== lineText + g.typed) throw new Error(`line ${f.line} reads ${JSON.stringify(typedLine)}, expected ${JSON.stringify(lineText + g.typed)}`);
    const hits = ms.filter((m) => m >= 0).length;
    if (hits === 0) throw new Error(`no ghost text after any of the keys ${JSON.stringify(keys)} (${GHOST_TIMEOUT_MS} ms each)`);
    return { keys, hits: `${hits}/${keys.length}`, ms };
  });

  // Tab accepts exactly what is shown. If the last position has no completion, ask explicitly; if still none,
  // go back to the warm-up position (Backspace over the typed keys) and ask there.
  await check(`accept-${f.key}`, async () => {
    if (!(await editorFocused())) throw new Error('editor lost focus');
    let how = 'shown after typing';
    if (!(await readGhost()).trim()) {
      how = 'alt+\\ after typing';
      await page.keyboard.press('Alt+Backslash');
      if (!(await waitGhost(GHOST_TIMEOUT_MS, 'alt+\\ before Tab').then(() => true, () => false))) {
        how = 'alt+\\ at the warm-up position';
        for (let i = 0; i < g.typed.length; i++) await page.keyboard.press('Backspace');
        g.typed = '';
        await page.keyboard.press('Escape');
        await sleep(200);
        await page.keyboard.press('Alt+Backslash');
        await waitGhost(GHOST_TIMEOUT_MS, 'alt+\\ at the warm-up position');
      }
    }
    // What is on screen when Tab goes is what must land in the file: wait until the ghost text has not changed
    // for 500 ms (an engine may refine or extend it), then press Tab at once.
    const ghost = await page.evaluate(async ({ quietMs, timeoutMs }) => {
      const end = performance.now() + timeoutMs;
      let last = window.__simsd.readGhost();
      let since = performance.now();
      while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
        const now = window.__simsd.readGhost();
        if (now !== last) { last = now; since = performance.now(); } else if (now.trim() && performance.now() - since >= quietMs) break;
      }
      return last;
    }, { quietMs: 500, timeoutMs: GHOST_TIMEOUT_MS });
    if (!ghost.trim()) throw new Error('the ghost text went away before Tab');
    g.accepted = ghost;
    g.acceptedHow = how;
    await page.keyboard.press('Tab');
    const expectedLines = (lineText + g.typed + ghost).split('\n');
    try {
      await page.waitForFunction(({ from, want }) => {
        const ls = window.__simsd.readLines();
        return want.every((w, i) => ls[from + i] === w);
      }, { from: f.line - 1, want: expectedLines }, { timeout: 5000, polling: 50 });
    } catch {
      const ls = await readLines();
      throw new Error(`after Tab the editor shows ${JSON.stringify(ls.slice(f.line - 1, f.line - 1 + expectedLines.length))}, expected ${JSON.stringify(expectedLines)}`);
    }
    await page.keyboard.press('Control+S');
    const expected = original.slice(0, offset) + g.typed + ghost + original.slice(offset);
    const disk = await pollDisk(file, (t) => t === expected);
    g.disk = disk;
    if (disk !== expected) throw new Error(`file on disk ${JSON.stringify(disk)} != expected ${JSON.stringify(expected)} (ghost ${JSON.stringify(ghost)})`);
    g.cursorOffset = offset + g.typed.length + ghost.length;
    return { ghost, how };
  });
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.SIMSD_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  result.timings.browserLaunchedMs = since();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.addInitScript(pageHelpers);

  await must('workbench', async () => {
    await page.goto(`http://127.0.0.1:${PORT}/?folder=${encodeURIComponent(path.join(W, 'ws'))}`);
    await page.locator('.monaco-workbench').first().waitFor({ timeout: 90000 });
    result.timings.workbenchMs = since();
  });

  await must('status-ready', async () => {
    await page.locator(STATUS_SELECTOR).first().waitFor({ state: 'attached', timeout: 120000 });
    result.timings.statusItemMs = since();
    const first = await statusText();
    result.status.first = first;
    const handle = await page.waitForFunction(({ sel, timeoutMs }) => {
      const t = (document.querySelector(sel)?.textContent ?? '').replace(/\u00a0/g, ' ');
      if (/error/i.test(t)) return { error: t };
      if (/tok\/s|ready/i.test(t) && /CPU|WebGPU/.test(t)) return { ready: t };
      return false;
    }, { sel: STATUS_SELECTOR, timeoutMs: READY_TIMEOUT_MS }, { timeout: READY_TIMEOUT_MS, polling: 100 }).catch(async () => {
      throw new Error(`status bar not ready within ${READY_TIMEOUT_MS} ms; it reads ${JSON.stringify(await statusText().catch(() => '?'))}`);
    });
    const v = await handle.jsonValue();
    if (v.error) throw new Error(`status bar shows an error: ${JSON.stringify(v.error.trim())}`);
    result.status.ready = v.ready.trim();
    result.timings.readyMs = since();
    return { first, ready: result.status.ready };
  });

  for (const f of FILES) await fileFlow(f);

  await check('status-after', async () => {
    const t = await statusText();
    result.status.after = t;
    if (ERROR_RE.test(t) || !READY_RE.test(t) || !DEVICE_RE.test(t)) throw new Error(`status bar reads ${JSON.stringify(t)}`);
    return { status: t };
  });

  // Generate Code in the last file, at the cursor left after the accepted completion.
  await check('generate-code', async () => {
    const f = FILES[FILES.length - 1];
    const file = path.join(W, 'ws', f.name);
    const base = await readDisk(file);
    const cursor = result.ghosts[f.key]?.cursorOffset;
    if (cursor === undefined) throw new Error(`no cursor position: accept-${f.key} did not pass`);
    await page.keyboard.press('Escape');
    const beforeLines = (await readLines()).join('\n');
    await runCommand('SimSD: Generate Code', { closes: false });
    const input = page.locator('.quick-input-widget input').first();
    // The palette closes, then the command's input box opens in the same widget: an input without '>' and no rows.
    await page.locator('.quick-input-widget').first().waitFor({ state: 'hidden', timeout: 1500 }).catch(() => {});
    await page.waitForFunction(() => {
      const w = document.querySelector('.quick-input-widget');
      const vis = (e) => !!e && e.getClientRects().length > 0;
      const rows = [...document.querySelectorAll('.quick-input-widget .quick-input-list .monaco-list-row')].filter(vis);
      const a = document.activeElement;
      return vis(w) && a?.tagName === 'INPUT' && !!a.closest('.quick-input-widget') && !a.value.startsWith('>') && rows.length === 0;
    }, null, { timeout: 15000 }).catch(() => { throw new Error('no input box after "SimSD: Generate Code"'); });
    await page.evaluate(() => window.__simsd.watchNotifications());
    await input.fill(INSTRUCTION);
    const tEnter = Date.now();
    await page.keyboard.press('Enter');
    // The document changes (possibly in several edits while the progress notification is up).
    await page.waitForFunction((b) => window.__simsd.readLines().join('\n') !== b, beforeLines, { timeout: GENERATE_TIMEOUT_MS, polling: 100 })
      .catch(() => { throw new Error(`the document did not change within ${GENERATE_TIMEOUT_MS} ms`); });
    result.timings.generateFirstChangeMs = Date.now() - tEnter;
    // Done when no "generating" toast is left.
    await page.waitForFunction(() => ![...document.querySelectorAll('.notification-toast .notification-list-item-message')]
      .some((e) => /generating/i.test(e.textContent)), null, { timeout: GENERATE_TIMEOUT_MS, polling: 100 })
      .catch(() => { throw new Error(`the "generating" notification stayed longer than ${GENERATE_TIMEOUT_MS} ms`); });
    result.timings.generateDoneMs = Date.now() - tEnter;
    const notes = await page.evaluate(() => { window.__simsdNotes.stop(); return [...window.__simsdNotes.seen]; });
    await shot('2-generated.png');
    if (!(await editorFocused())) await page.locator('.part.editor .monaco-editor .view-lines').first().click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('Control+S');
    const disk = await pollDisk(file, (t) => t !== base);
    const inserted = disk.slice(cursor, cursor + disk.length - base.length);
    result.ghosts.generated = { inserted, notifications: notes };
    if (disk === base) throw new Error('the file on disk did not change after Ctrl+S');
    if (disk.length <= base.length || disk !== base.slice(0, cursor) + inserted + base.slice(cursor)) {
      throw new Error(`the change is not an insertion at the cursor (offset ${cursor}): before ${JSON.stringify(base)}, after ${JSON.stringify(disk)}`);
    }
    if (!inserted.trim()) throw new Error(`inserted text is blank: ${JSON.stringify(inserted)}`);
    if (!notes.some((n) => /SimSD/i.test(n) && /generating/i.test(n))) throw new Error(`no "SimSD: generating…" notification seen (saw ${JSON.stringify(notes)})`);
    return { inserted, ms: result.timings.generateDoneMs };
  });

  await check('show-log', async () => {
    await runCommand('SimSD: Show Log');
    const r = await page.waitForFunction(() => {
      const panel = document.querySelector('.part.panel');
      if (!panel || panel.getClientRects().length === 0) return false;
      const sel = panel.querySelector('select[aria-label*="Output"], select.monaco-select-box');
      const chosen = sel ? (sel.options[sel.selectedIndex]?.text ?? sel.value) : '';
      if (!/SimSD/.test(chosen)) return false;
      const lines = [...panel.querySelectorAll('.monaco-editor .view-line')].map((l) => l.textContent.replace(/\u00a0/g, ' ')).filter((l) => l.trim());
      return lines.length ? { channel: chosen, lines: lines.slice(0, 5) } : false;
    }, null, { timeout: 10000, polling: 100 }).catch(() => { throw new Error('the Output panel did not show the SimSD channel with text'); });
    return (await r.jsonValue());
  });
  await shot('3-final.png');

  // Select Models → the paper's pair from the stand-in hub (ui/run.sh serves the embedded pair as JetLM/SDAR-1.7B-Chat
  // and JetLM/SDAR-8B-Chat, gated by a token) → the download and conversion notification → the status bar names the
  // new target → ghost text from it.
  await check('hub-token', async () => {
    await runCommand('SimSD: Set Hugging Face Token', { closes: false });
    await page.waitForFunction(() => {
      const a = document.activeElement;
      return a?.tagName === 'INPUT' && !!a.closest('.quick-input-widget') && !a.value.startsWith('>') && a.type === 'password';
    }, null, { timeout: 15000 }).catch(() => { throw new Error('no password box after "SimSD: Set Hugging Face Token"'); });
    await page.locator('.quick-input-widget input').first().fill(process.env.HUB_TOKEN);
    await page.keyboard.press('Enter');
    await page.locator('.notification-toast .notification-list-item-message', { hasText: /token saved/i }).first().waitFor({ timeout: 15000 })
      .catch(() => { throw new Error('no "token saved" notification'); });
    return { endpoint: process.env.HUB_ENDPOINT };
  });

  await check('pull-preset', async () => {
    await runCommand('SimSD: Select Models', { closes: false });
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'SimSD paper pair' }).first();
    await row.waitFor({ state: 'visible', timeout: 15000 }).catch(() => { throw new Error('the preset is not in Select Models'); });
    await page.evaluate(() => window.__simsd.watchNotifications());
    const tPick = Date.now();
    await row.click();
    const handle = await page.waitForFunction((sel) => {
      const t = (document.querySelector(sel)?.textContent ?? '').replace(/\u00a0/g, ' ');
      return /SDAR-8B-Chat/.test(t) && /ready|tok\/s/i.test(t) ? t : false;
    }, STATUS_SELECTOR, { timeout: READY_TIMEOUT_MS, polling: 200 }).catch(async () => {
      throw new Error(`the status bar did not name the pulled target within ${READY_TIMEOUT_MS} ms; it reads ${JSON.stringify(await statusText().catch(() => '?'))}`);
    });
    const status = (await handle.jsonValue()).trim();
    const notes = await page.evaluate(() => { window.__simsdNotes.stop(); return [...window.__simsdNotes.seen]; });
    result.timings.pullMs = Date.now() - tPick;
    await shot('4-pulled.png');
    // The tiny files download in a blink, so the progress toast may be gone before it is painted; the closing
    // message names the pair either way.
    if (!notes.some((n) => /downloading JetLM\/SDAR|now using JetLM\/SDAR-8B-Chat/.test(n))) throw new Error(`no download notification seen (saw ${JSON.stringify(notes)})`);
    return { status, ms: result.timings.pullMs, notifications: notes.slice(0, 6) };
  });

  await check('ghost-pulled', async () => {
    const f = { key: 'pulled', name: 'pulled.py', line: 3 };
    await openFile(f);
    await runCommand('Trigger Inline Suggestion');
    const ghost = await waitGhost(GHOST_TIMEOUT_MS * 3, 'palette trigger with the pulled pair');
    await shot('5-ghost-pulled.png');
    return { ghost, status: await statusText() };
  });
}

let fatal = null;
try {
  await main();
} catch (e) {
  fatal = String(e?.stack ?? e);
  log(`aborted: ${String(e?.message ?? e)}`);
  await shot('failure.png');
} finally {
  try { result.memory = memory(); } catch (e) { result.memory = { error: String(e) }; }
  await browser?.close().catch(() => {});
}

// Checks that never ran count as failed; an exception outside any check counts as one failure.
const ran = new Set(result.checks.map((c) => c.name));
for (const name of CHECKS) if (!ran.has(name)) result.checks.push({ name, ok: false, error: 'not run (an earlier step failed)' });
result.passed = result.checks.filter((c) => c.ok).length;
result.failed = result.checks.filter((c) => !c.ok).length;
if (fatal && !result.checks.some((c) => !c.ok)) result.failed += 1;
result.fatal = fatal;
const typed = result.latencies.filter((l) => l.kind === 'typed' && l.ms >= 0).map((l) => l.ms).sort((a, b) => a - b);
result.latencySummary = typed.length
  ? { keys: typed.length, minMs: typed[0], medianMs: typed[Math.floor((typed.length - 1) / 2)], maxMs: typed[typed.length - 1],
    explicitMs: result.latencies.filter((l) => l.kind !== 'typed').map((l) => l.ms) }
  : null;
result.timings.checksDoneMs = since();
fs.writeFileSync(path.join(OUT, 'result.json'), JSON.stringify(result, null, 2));
log(`memory PSS: code-server ${result.memory?.codeServer?.pssMiB} MiB in ${result.memory?.codeServer?.processes} processes, chromium ${result.memory?.chromium?.pssMiB} MiB in ${result.memory?.chromium?.processes}`);
if (result.latencySummary) log(`keystroke → ghost: median ${result.latencySummary.medianMs} ms (${result.latencySummary.minMs}–${result.latencySummary.maxMs}, ${result.latencySummary.keys} keys); alt+\\ ${result.latencySummary.explicitMs.join(', ')} ms`);
log(`${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 ? 0 : 1);
