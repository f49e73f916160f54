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
  | 'bad-model'
  | 'unsafe-output';

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

/**
 * A request that cannot be served as asked: token ids outside the vocabulary, a prompt and output beyond the
 * model's context, a decode parameter out of its documented range. The message says which value and why.
 */
export class RequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestError';
  }
}
