// Python ↔ TypeScript twin: the training recipe's own model and decoder (models/train/model.py + decode.py, run by
// test/pipeline/python_decode.py) against our runtime (checkpoint → ONNX → onnxruntime-node, `native` with the static rule), on
// the same exported BF16 weights. smoke-training.test.ts only proves the runtime loads and generates *something*; a
// RoPE, QK-norm, GQA or mask mismatch between model.py and the ONNX graph would pass it. Here it cannot:
//   1. logits of one block-causal forward (prompt + a canvas of MASKs) must agree to LOGIT_TOLERANCE (fp32 vs fp32);
//   2. native static decoding (8 prompts × 16 tokens, no stop ids) must give the same ids, prompt by prompt. Near-ties
//      are handled, not hidden: a reveal decided by less than NEAR_TIE (the argmax token, or which hole goes first)
//      may go the other way on another float path, so python_decode.py explores both branches of every reveal-order
//      near-tie; a canvas is compared only when all its branches end in the same tokens and it revealed no near-tie
//      token, and only up to the first canvas that is not; at least MIN_COMPARED of all tokens must be compared, and
//      the diagnostics say how many were and why.
// Two exports: a fresh smoke-trained one (the recipe as it is now, models/train/smoke.sh) and the shipped
// models/draft. The smoke model (16 steps) is close to a unigram model and decodes one token almost everywhere, so
// its token check is weak and its logit check is what bites; the draft is trained and its tokens follow the prompt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertCheckpoint } from '../../src/model/convert';
import { generate } from '../../src/decode/generate';
import { blockCausalMask } from '../../src/decode/masks';
import { HostKvCache } from '../../src/model/kv';
import { ModelSession } from '../../src/model/session';
import { loadTokenizer } from '../../src/model/tokenizer';
import { tempDir } from '../fixtures/corrupt';

const PYTHON = '/usr/bin/python3'; // Debian's python3-torch (models/README.md)
const MAX_TOKENS = 16;
/** A reveal (token argmax or which hole goes first) decided by less than this, in logits / log-probabilities. */
const NEAR_TIE = 1e-3;
/** max |Δ logit| allowed, relative to 1 + max |logit|. Measured ≤ 7e-7 relative (fp32 torch vs fp32 onnxruntime). */
const LOGIT_TOLERANCE = 1e-5;
/** Share of the decoded tokens that must be compared (not cut off by a near-tie). */
const MIN_COMPARED = 0.5;
/** Native decoding with the static reveal rule: what models/train/decode.py implements. */
const NATIVE_STATIC = { strategy: 'native', rule: 'static' } as const;

// Code prompts of varied lengths: 1, 3, 9, 27, 35, 26, 44 and 52 ids with the shipped tokenizer (6 of 8 leave a
// partial block that opens the first canvas).
const SNIPPETS = [
  'def',
  'import os\n',
  'function add(a, b) {\n  return',
  'class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n',
  'export interface Point {\n  x: number;\n  y: number;\n}\n\nexport function distance(a: Point, b: Point): number {\n',
  'for i in range(10):\n    if i % 2 == 0:\n        print(i)\n    else:\n',
  'const fs = require(\'fs\');\nconst path = require(\'path\');\n\nmodule.exports = function readConfig(dir) {\n  const file = path.join(dir, \'config.json\');\n',
  '# Licensed under the MIT license.\n"""Utilities for parsing command line arguments."""\nimport argparse\nimport sys\n\n\ndef parse_args(argv=None):\n    parser = argparse.ArgumentParser(description=__doc__)\n',
];

interface Decision {
  readonly block: number; readonly step: number; readonly slot: number; readonly pos: number; readonly token: number;
  readonly token_margin: number; readonly reveal_margin: number | null;
}
interface Block {
  readonly out_start: number; readonly robust: boolean; readonly outcomes: number | null;
}
interface PythonAnswer {
  readonly ids: number[][];
  readonly ids_fp64: number[][];
  readonly decisions: Decision[][];
  readonly blocks: Block[][];
  readonly logits_rows: number;
}
interface Job {
  readonly name: string;
  readonly dir: string;
  readonly prompts: number[][];
  readonly logitIds: number[];
  readonly logitFile: string;
}

const decisionMargin = (d: Decision) => Math.min(d.token_margin, d.reveal_margin ?? Infinity);

/**
 * How many leading output tokens the Python trajectory decides robustly: every token before its first canvas that is
 * not robust to near-ties (python_decode.py explores each reveal-order near-tie; a token near-tie is never robust),
 * and before the canvas where the fp32 and fp64 decodes split.
 */
function trustedLength(prompt: readonly number[], py: readonly number[], py64: readonly number[], blocks: readonly Block[], bl: number): number {
  let trusted = MAX_TOKENS;
  const fragile = blocks.find((b) => !b.robust);
  if (fragile !== undefined) trusted = Math.min(trusted, fragile.out_start);
  const split = py.findIndex((t, i) => t !== py64[i]);
  if (split >= 0) trusted = Math.min(trusted, Math.max(0, Math.floor((prompt.length + split) / bl) * bl - prompt.length));
  return trusted;
}

test('Python reference and TypeScript runtime decode the same exports identically', { timeout: 600_000 }, async (t) => {
  const work = tempDir('simsd-twin');
  try {
    const smoke = join(work.path, 'smoke-export');
    const printed = execFileSync('bash', ['models/train/smoke.sh', smoke], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(printed.trim().split('\n').pop(), smoke);

    const jobs: Job[] = [{ name: 'smoke', dir: smoke }, { name: 'draft', dir: 'models/draft' }].map(({ name, dir }) => {
      const tokenizer = loadTokenizer(dir);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { mask_token_id: number; block_size: number };
      const prompts = SNIPPETS.map((s) => tokenizer.encode(s));
      // One denoise step's window without a cache: the longest prompt, then MASK up to the next block edge + a block.
      const base = prompts[prompts.length - 1];
      const bl = config.block_size;
      const logitIds = [...base, ...new Array<number>(bl - (base.length % bl) + bl).fill(config.mask_token_id)];
      return { name, dir, prompts, logitIds, logitFile: join(work.path, `${name}.logits.f32`) };
    });

    const started = performance.now();
    const request = { jobs: jobs.map((j) => ({ export: j.dir, prompts: j.prompts, tokens: MAX_TOKENS, near_tie: NEAR_TIE, logits: { ids: j.logitIds, out: j.logitFile } })) };
    const stdout = execFileSync(PYTHON, ['test/pipeline/python_decode.py'], {
      input: JSON.stringify(request), encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20,
      env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' }, // nothing written into models/train
    });
    const answers = (JSON.parse(stdout.trim().split('\n').pop()!) as { jobs: PythonAnswer[] }).jobs;
    t.diagnostic(`python reference: ${((performance.now() - started) / 1000).toFixed(1)} s`);

    for (const [k, job] of jobs.entries()) {
      const py = answers[k];
      const onnx = join(work.path, `${job.name}-onnx`);
      await convertCheckpoint(job.dir, onnx, { weights: 'fp32', variants: ['greedy', 'debug'] });

      await t.test(`${job.name}: logits of one block-causal forward`, async () => {
        const session = await ModelSession.open(onnx, { threads: 1, variant: 'debug' });
        try {
          const { vocabSize: V, blockLength: bl, maskTokenId } = session.config;
          const L = job.logitIds.length;
          const out = await session.forward({
            ids: Int32Array.from(job.logitIds), positions: Int32Array.from({ length: L }, (_, i) => i),
            windowMask: blockCausalMask(L, bl), selectRows: Int32Array.from({ length: L }, (_, i) => i),
          }, HostKvCache.forConfig(session.config));
          const bytes = readFileSync(job.logitFile);
          const ref = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
          assert.equal(py.logits_rows, L);
          assert.equal(ref.length, L * V);
          assert.ok(out.logits, 'the debug graph returns logits');
          let maxDiff = 0;
          let maxAbs = 0;
          let worst = [0, 0];
          for (let r = 0; r < L; r++) {
            for (let v = 0; v < V; v++) {
              if (v === maskTokenId) continue; // -Infinity in the debug graph
              const d = Math.abs(out.logits[r * V + v] - ref[r * V + v]);
              maxAbs = Math.max(maxAbs, Math.abs(ref[r * V + v]));
              if (!(d <= maxDiff)) { maxDiff = d; worst = [r, v]; }
            }
          }
          t.diagnostic(`${job.name}: ${L} rows × ${V} logits, max |logit| ${maxAbs.toFixed(3)}, max |Δ| ${maxDiff.toExponential(2)} (row ${worst[0]}, id ${worst[1]})`);
          assert.ok(4 * LOGIT_TOLERANCE * (1 + maxAbs) <= NEAR_TIE, `${job.name}: logits up to ${maxAbs}: NEAR_TIE must be at least 4 × the allowed logit error`);
          assert.ok(maxDiff <= LOGIT_TOLERANCE * (1 + maxAbs),
            `${job.name}: logits differ by up to ${maxDiff} at row ${worst[0]} (position ${worst[0]}, input id ${job.logitIds[worst[0]]}), id ${worst[1]}: ` +
            `onnx ${out.logits[worst[0] * V + worst[1]]} vs python ${ref[worst[0] * V + worst[1]]}; allowed ${LOGIT_TOLERANCE * (1 + maxAbs)}`);
        } finally {
          await session.close();
        }
      });

      await t.test(`${job.name}: native static decoding, ${job.prompts.length} prompts × ${MAX_TOKENS} tokens`, async () => {
        const session = await ModelSession.open(onnx, { threads: 1 });
        const bl = session.config.blockLength;
        let compared = 0;
        let nearTies = 0;
        let minMargin = Infinity;
        const problems: string[] = [];
        try {
          for (const [p, prompt] of job.prompts.entries()) {
            const g = await generate({ target: session }, { target: HostKvCache.forConfig(session.config) }, prompt,
              { ...NATIVE_STATIC, maxTokens: MAX_TOKENS, modelStopIds: false });
            const ts = [...g.tokenIds];
            const ref = py.ids[p].slice(0, MAX_TOKENS);
            assert.equal(ts.length, MAX_TOKENS, `${job.name} prompt ${p}: the runtime stops at the budget (${g.finishReason})`);
            assert.ok(py.ids[p].length >= MAX_TOKENS, `${job.name} prompt ${p}: decode.py returns whole blocks up to the budget`);
            const decisions = py.decisions[p].filter((d) => d.pos - prompt.length < MAX_TOKENS);
            const margin = Math.min(...decisions.map(decisionMargin));
            minMargin = Math.min(minMargin, margin);
            const trusted = trustedLength(prompt, ref, py.ids_fp64[p], py.blocks[p], bl);
            const ties = decisions.filter((d) => decisionMargin(d) < NEAR_TIE);
            const fragile = py.blocks[p].filter((b) => b.out_start < MAX_TOKENS && !b.robust).length;
            nearTies += ties.length;
            compared += trusted;
            const at = ts.findIndex((tok, i) => tok !== ref[i]);
            const line = `${job.name} prompt ${p} (${prompt.length} ids, ${prompt.length % bl} leftover, ${new Set(ref).size} distinct out): min margin ${margin.toExponential(2)}, ` +
              `fp64 ${py.ids_fp64[p].slice(0, MAX_TOKENS).join(',') === ref.join(',') ? 'same' : 'differs'}, ${ties.length} near-tie(s) in ${new Set(ties.map((d) => d.block)).size} canvas(es), ${fragile} not robust, compared ${trusted}/${MAX_TOKENS}` +
              (at < 0 ? ', identical' : `, first divergence at output ${at} (position ${prompt.length + at}): runtime ${ts[at]}, python ${ref[at]}`);
            t.diagnostic(line);
            if (at >= 0 && at < trusted) {
              const d = py.decisions[p].find((x) => x.pos === prompt.length + at);
              problems.push(`${line}\n  runtime ${ts.join(',')}\n  python  ${ref.join(',')}` +
                (d ? `\n  python decided position ${d.pos} at block ${d.block} step ${d.step} (token margin ${d.token_margin.toExponential(2)}, reveal margin ${d.reveal_margin?.toExponential(2) ?? '-'})` : ''));
            }
          }
        } finally {
          await session.close();
        }
        const total = job.prompts.length * MAX_TOKENS;
        t.diagnostic(`${job.name}: compared ${compared}/${total} tokens (the rest follow a canvas not robust to near-ties < ${NEAR_TIE}, or an fp32/fp64 split); ${nearTies} near-ties explored; smallest margin ${minMargin.toExponential(2)}`);
        assert.ok(problems.length === 0, `${job.name}: the runtime and decode.py disagree on ${problems.length} prompt(s):\n${problems.join('\n')}`);
        assert.ok(compared >= MIN_COMPARED * total, `${job.name}: only ${compared}/${total} tokens were far enough from a near-tie to compare`);
      });
    }
  } finally {
    work.remove();
  }
});
