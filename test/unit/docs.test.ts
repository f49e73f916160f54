// The documentation in docs/ as a test: every citation in src/ (`decoding.md §2.3`, or a bare `models.md`) names a
// file of docs/ and, with a section, a heading numbered that way there; the docs' own cross-references resolve too;
// docs/README.md links every other document; and every section heading is numbered. A citation lists its sections
// after the file name (`decoding.md §1.4, §5.3`, `models.md §6.1–§6.4`) up to the end of its parenthesis, table
// cell, clause, sentence or line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const DOCS = 'docs';

/** Test sources, this file excluded (its comments show citation forms as examples). */
function testSources(): string[] {
  return sources('test').filter((f) => !f.endsWith('docs.test.ts'));
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

interface Citation {
  readonly where: string;             // file:line
  readonly path: string;              // folders written before the file name ('' for a bare name)
  readonly doc: string;               // e.g. decoding.md
  readonly sections: readonly string[]; // e.g. ['1.4', '5.3']; empty for a bare citation
}

/** A file name ending in .md, with the folders written before it. */
const DOC_NAME = /((?:[\w.-]+\/)*)([\w-]+\.md)\b/g;
/** Where a citation's list of sections ends: a bracket, a table cell, a clause, a sentence, a line, the next file. */
const SEGMENT_END = /[()|;\n]|\.\s|[\w-]+\.md\b/;

function citationsIn(file: string, text: string): Citation[] {
  const found: Citation[] = [];
  for (const m of text.matchAll(DOC_NAME)) {
    const start = (m.index ?? 0) + m[0].length;
    const rest = text.slice(start);
    const end = rest.search(SEGMENT_END);
    const segment = end < 0 ? rest : rest.slice(0, end);
    const sections = [...segment.matchAll(/§\s*(\d+(?:\.\d+)*)/g)].map((s) => s[1]);
    const line = text.slice(0, m.index ?? 0).split('\n').length;
    found.push({ where: `${file}:${line}`, path: m[1], doc: m[2], sections });
  }
  return found;
}

/** Citations of docs/ only: bare names or paths into a docs/ folder (models/README.md and the like are other files). */
function docCitations(files: readonly string[]): Citation[] {
  return files.flatMap((file) => citationsIn(file, readFileSync(file, 'utf8'))).filter((c) => c.path === '' || c.path.endsWith(`${DOCS}/`));
}

/** Heading numbers of a docs file: `## 1. Title` → 1, `### 1.2 Title` → 1.2. */
function headingNumbers(doc: string): string[] {
  const text = readFileSync(join(DOCS, doc), 'utf8');
  return [...text.matchAll(/^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s/gm)].map((m) => m[1]);
}

/** Problems with `citations`: a file missing from docs/, or a section with no heading numbered that way. */
function unresolved(citations: readonly Citation[]): string[] {
  const headings = new Map<string, string[]>();
  const problems: string[] = [];
  for (const c of citations) {
    if (!existsSync(join(DOCS, c.doc))) {
      problems.push(`${c.where}: ${c.doc} is not in ${DOCS}/`);
      continue;
    }
    if (!headings.has(c.doc)) headings.set(c.doc, headingNumbers(c.doc));
    const numbers = headings.get(c.doc) ?? [];
    for (const s of c.sections) {
      if (!numbers.some((n) => n === s || n.startsWith(`${s}.`))) problems.push(`${c.where}: ${c.doc} has no heading ${s}`);
    }
  }
  return problems;
}

const docFiles = readdirSync(DOCS).filter((name) => name.endsWith('.md'));

test('every citation in src/ and test/ names a file of docs/ and a heading of that file', () => {
  const citations = docCitations([...sources('src'), ...testSources()]);
  assert.ok(citations.length > 0, 'no citation found in src/');
  assert.deepEqual(unresolved(citations), []);
});

test('no source file points into the former shared design folder', () => {
  const stale = [...sources('src'), ...testSources()].filter((file) => readFileSync(file, 'utf8').includes('shared/design'));
  assert.deepEqual(stale, []);
});

test("the docs' own cross-references resolve", () => {
  assert.deepEqual(unresolved(docCitations(docFiles.map((name) => join(DOCS, name)))), []);
});

test('docs/README.md links every other document in docs/', () => {
  const index = readFileSync(join(DOCS, 'README.md'), 'utf8');
  const missing = docFiles.filter((name) => name !== 'README.md' && !index.includes(`](${name})`));
  assert.deepEqual(missing, []);
});

test('every heading of docs/ is numbered once per file', () => {
  const repeated = docFiles.flatMap((name) => {
    const numbers = readFileSync(join(DOCS, name), 'utf8').split('\n').filter((l) => /^#{2,3}\s/.test(l)).map((l) => /^#{2,3}\s+(\d+(?:\.\d+)*)\.?\s/.exec(l)?.[1] ?? `unnumbered: ${l}`);
    return numbers.filter((n, i) => numbers.indexOf(n) !== i || n.startsWith('unnumbered')).map((n) => `${name}: ${n}`);
  });
  assert.deepEqual(repeated, []);
});
