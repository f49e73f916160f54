// Negative control: with E2E_FORCE_FAIL=1 in the extension host's environment this test fails, and the harness
// must then exit 1. Proves that a failing test cannot go unnoticed.
import * as assert from 'assert';

describe('negative control', () => {
  it('fails only when E2E_FORCE_FAIL=1', () => {
    assert.notStrictEqual(process.env.E2E_FORCE_FAIL, '1', 'forced failure (E2E_FORCE_FAIL=1)');
  });
});
