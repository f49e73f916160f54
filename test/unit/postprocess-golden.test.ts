// Runs every golden case in test/golden/postprocess/*.json through the post-processing pipeline.
// Each file is its own test, named after the file; a failure prints every rule's output for that case.
// Run: npx tsc --noEmit -p . && node esbuild.mjs --tests && node --test out/test/unit/postprocess-golden.test.js
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { buildCursorContext } from '../../src/completion/context';
import { postprocess, postprocessContext, tracePostprocess } from '../../src/completion/postprocess';

const CURSOR = '║';
// The bundle runs from out/test/unit/; the cases stay in the source tree.
const GOLDEN_DIR = resolve(__dirname, '../../../test/golden/postprocess');

interface GoldenCase {
  readonly description: string;
  readonly language: string;
  readonly document: string;
  readonly raw: string;
  readonly multiline: boolean;
  readonly maxLines: number;
  readonly expected: string | null;
}

function parseCase(file: string, json: unknown): GoldenCase {
  const problem = (what: string): Error => new Error(`${file}: ${what}`);
  if (typeof json !== 'object' || json === null) throw problem('not a JSON object');
  const record = json as Record<string, unknown>;
  for (const key of ['description', 'language', 'document', 'raw']) {
    if (typeof record[key] !== 'string') throw problem(`"${key}" must be a string`);
  }
  if (typeof record.multiline !== 'boolean') throw problem('"multiline" must be true or false');
  if (record.expected !== null && typeof record.expected !== 'string') throw problem('"expected" must be a string or null');
  if (record.maxLines !== undefined && typeof record.maxLines !== 'number') throw problem('"maxLines" must be a number');
  const document = record.document as string;
  if (document.split(CURSOR).length !== 2) throw problem(`"document" must contain exactly one ${CURSOR}`);
  return {
    description: record.description as string,
    language: record.language as string,
    document,
    raw: record.raw as string,
    multiline: record.multiline,
    maxLines: (record.maxLines as number | undefined) ?? 8,
    expected: record.expected as string | null,
  };
}

function run(golden: GoldenCase): { result: string | null; trace: string } {
  const [before, after] = golden.document.split(CURSOR) as [string, string];
  const lines = before.split('\n');
  const cursor = { line: lines.length - 1, character: lines[lines.length - 1]!.length };
  const doc = { text: before + after, languageId: golden.language, uri: 'file:///golden' };
  const ctx = postprocessContext(buildCursorContext(doc, cursor), { multiline: golden.multiline, maxLines: golden.maxLines });
  const trace = tracePostprocess(golden.raw, ctx)
    .map((entry) => `  ${entry.rule.padEnd(18)} → ${JSON.stringify(entry.output)}`)
    .join('\n');
  return { result: postprocess(golden.raw, ctx), trace };
}

const files = readdirSync(GOLDEN_DIR).filter((name) => name.endsWith('.json')).sort();

test('golden cases exist', () => {
  assert.ok(files.length >= 24, `expected at least 24 golden cases in ${GOLDEN_DIR}, found ${files.length}`);
});

for (const file of files) {
  test(`golden ${file}`, () => {
    const golden = parseCase(file, JSON.parse(readFileSync(join(GOLDEN_DIR, file), 'utf8')));
    const { result, trace } = run(golden);
    assert.equal(
      result,
      golden.expected,
      `${file}: ${golden.description}\nexpected ${JSON.stringify(golden.expected)}\ngot      ${JSON.stringify(result)}\n${trace}`,
    );
  });
}
