// Typed errors for user-supplied input (checkpoints, configs, tokenizers, converted models).
// The message always names the file and the problem, so the user knows what to fix.

export type CheckpointProblem =
  | 'missing-file'
  | 'truncated'
  | 'bad-header'
  | 'offset-out-of-bounds'
  | 'overlapping-tensors'
  | 'size-mismatch'
  | 'unknown-dtype'
  | 'missing-tensor'
  | 'wrong-shape'
  | 'bad-index'
  | 'bad-config'
  | 'bad-tokenizer'
  | 'bad-model';

export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    readonly problem: CheckpointProblem,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

/** Raised by a forward whose cancel flag was set before it ran. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}
