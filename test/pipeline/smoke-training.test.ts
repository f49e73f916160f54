// The embedded pair's recipe end to end (issue 4): a few training steps on the committed slice
// (models/train/smoke.sh, Python + Debian's torch), then our TypeScript runtime reads the exported checkpoint,
// converts it to ONNX and generates from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describeCheckpoint } from '../../src/model/checkpoint';
import { convertCheckpoint } from '../../src/model/convert';
import { generate } from '../../src/decode/generate';
import { HostKvCache } from '../../src/model/kv';
import { ModelSession } from '../../src/model/session';
import { loadTokenizer } from '../../src/model/tokenizer';
import { tempDir } from '../fixtures/corrupt';

test('smoke training exports a checkpoint that our runtime loads, converts and generates from', { timeout: 600_000 }, async () => {
  const work = tempDir('simsd-smoke');
  try {
    const out = join(work.path, 'export');
    const printed = execFileSync('bash', ['models/train/smoke.sh', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(printed.trim().split('\n').pop(), out);
    const summary = describeCheckpoint(out);
    assert.equal(summary.architecture, 'SDARForCausalLM');
    assert.equal(summary.blockLength, 4);
    assert.deepEqual(Object.keys(summary.dtypes), ['BF16']);
    await convertCheckpoint(out, join(work.path, 'onnx'), { weights: 'fp32' });
    const session = await ModelSession.open(join(work.path, 'onnx'), { threads: 1 });
    try {
      const tokenizer = loadTokenizer(out);
      const prompt = tokenizer.encode('def add(a, b):\n    return');
      const g = await generate({ target: session }, { target: HostKvCache.forConfig(session.config) }, prompt, { strategy: 'native', maxTokens: 12 });
      assert.ok(g.tokenIds.length > 0, 'generated tokens');
      for (const id of g.tokenIds) {
        assert.ok(id >= 0 && id < summary.vocabSize, `id ${id} in the vocabulary`);
        assert.notEqual(id, summary.maskTokenId, 'the MASK id is never emitted');
      }
      assert.equal(typeof tokenizer.decode([...g.tokenIds]), 'string');
    } finally {
      await session.close();
    }
  } finally {
    work.remove();
  }
});
