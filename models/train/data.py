"""Training documents -> packed rows, and the block-diffusion noise.

Documents come from tokenize.mjs (.bin uint16 ids, .idx int32 rows [offset, length, language, isFim, chunk, file]).
Packing is document-aligned: each row holds whole documents, positions restart at 0 per document (so blocks start
where an inference prompt starts) and the masks in model.py keep documents apart. Each document is padded to a
multiple of the block length with <|endoftext|>, and those pads are labelled (the model learns to end a block
after the end of text, as SDAR's SFT does). The unused tail of a row is one unlabelled filler segment.
"""
import numpy as np

IDX_FIELDS = 6
LANGUAGES = ['python', 'typescript', 'javascript']


class DocSet:
    def __init__(self, prefix):
        self.tokens = np.fromfile(prefix + '.bin', dtype='<u2')
        self.index = np.fromfile(prefix + '.idx', dtype='<i4').reshape(-1, IDX_FIELDS)

    def __len__(self):
        return len(self.index)

    def doc(self, i):
        offset, length = self.index[i, 0], self.index[i, 1]
        return self.tokens[offset:offset + length].astype(np.int64)

    def is_fim(self, i):
        return bool(self.index[i, 3])

    def language(self, i):
        return LANGUAGES[self.index[i, 2]]


class Packer:
    """Walks a seeded permutation of the documents, epoch after epoch; its state is two integers (plus the lookahead
    pool), so a resumed run continues with exactly the rows it would have seen.

    lookahead = 0: documents in order, a row is closed by the first document that does not fit (~91 % of a 512-token
    row labelled). lookahead = K: the next K documents wait in a pool and each row is filled best-fit (the longest
    pooled document that still fits, until none does), which labels ~99 % of a row; every document is still used
    once per epoch, within K places of its turn."""

    def __init__(self, docs, window, block_size, pad_id, seed, lookahead=0):
        self.docs, self.window, self.block_size, self.pad_id, self.seed = docs, window, block_size, pad_id, seed
        self.lookahead = lookahead
        self.epoch, self.cursor = 0, 0
        self.order = self._order()
        self.pending = None  # the document read but not yet placed (it did not fit the previous row)
        self.pool = []  # lookahead mode: ids of documents read but not yet placed

    def _order(self):
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.docs))

    def state(self):
        if self.lookahead:
            return {'epoch': self.epoch, 'cursor': self.cursor, 'pool': list(self.pool)}
        # A pending document is re-read on resume, so the state points at it.
        return {'epoch': self.epoch, 'cursor': self.cursor - (self.pending is not None)}

    def load_state(self, state):
        self.epoch, self.cursor, self.pending = state['epoch'], state['cursor'], None
        self.order = self._order()
        self.pool = [int(i) for i in state.get('pool', [])] if self.lookahead else []

    def _padded(self, i):
        doc = self.docs.doc(i)
        pad = (-len(doc)) % self.block_size
        return np.concatenate([doc, np.full(pad, self.pad_id, dtype=np.int64)])[:self.window]

    def _advance(self):
        if self.cursor == len(self.order):
            self.epoch, self.cursor = self.epoch + 1, 0
            self.order = self._order()
        at = (self.epoch, self.cursor)
        self.cursor += 1
        return at

    def _next_doc(self):
        epoch, cursor = self._advance()
        return self._padded(self.order[cursor])

    def _pooled_doc(self, room):
        """Lookahead mode: the longest pooled document that fits in room tokens (removed from the pool), or None."""
        while len(self.pool) < self.lookahead:
            epoch, cursor = self._advance()
            self.pool.append(int(self.order[cursor]))
        lengths = self.docs.index[self.pool, 1]
        lengths = np.minimum(self.window, lengths + (-lengths) % self.block_size)
        fits = np.nonzero(lengths <= room)[0]
        if len(fits) == 0:
            return None
        best = int(fits[np.argmax(lengths[fits])])  # first of the longest: deterministic
        return self._padded(self.pool.pop(best))

    def next_batch(self, batch_size):
        """-> dict of [B, W] arrays: ids, segments (document number in the row, -1 = filler), positions,
        labelled (bool). The document that no longer fits opens the next row."""
        ids = np.full((batch_size, self.window), self.pad_id, dtype=np.int64)
        segments = np.full((batch_size, self.window), -1, dtype=np.int64)
        positions = np.zeros((batch_size, self.window), dtype=np.int64)
        for row in range(batch_size):
            used, seg = 0, 0
            while self.lookahead:
                doc = self._pooled_doc(self.window - used)
                if doc is None:
                    break
                ids[row, used:used + len(doc)] = doc
                segments[row, used:used + len(doc)] = seg
                positions[row, used:used + len(doc)] = np.arange(len(doc))
                used, seg = used + len(doc), seg + 1
            while not self.lookahead:
                if self.pending is None:
                    self.pending = self._next_doc()
                doc = self.pending
                if used + len(doc) > self.window:
                    break
                ids[row, used:used + len(doc)] = doc
                segments[row, used:used + len(doc)] = seg
                positions[row, used:used + len(doc)] = np.arange(len(doc))
                used, seg, self.pending = used + len(doc), seg + 1, None
            positions[row, used:] = np.arange(self.window - used)
        return {'ids': ids, 'segments': segments, 'positions': positions, 'labelled': segments >= 0}


def add_noise(batch, rng, t_min, t_max, mask_id):
    """SDAR noise, one rate per document: each labelled token becomes MASK with probability p = t (t ~ U(t_min,
    t_max)), at least one per document. -> noisy ids [B, W], masked [B, W] bool, p [B, W]."""
    ids, segments, labelled = batch['ids'], batch['segments'], batch['labelled']
    p = np.zeros(ids.shape, dtype=np.float64)
    masked = np.zeros(ids.shape, dtype=bool)
    for row in range(ids.shape[0]):
        for seg in range(segments[row].max() + 1):
            cols = np.nonzero(segments[row] == seg)[0]
            t = rng.uniform(t_min, t_max)
            hit = rng.random(len(cols)) < t
            if not hit.any():
                hit[rng.integers(len(cols))] = True
            p[row, cols] = t
            masked[row, cols[hit]] = True
    masked &= labelled
    noisy = np.where(masked, mask_id, ids)
    return noisy, masked, p


def next_token_labels(batch, ignore=-100):
    """Autoregressive warm start: the label at i is the token at i+1 of the same document."""
    ids, segments, labelled = batch['ids'], batch['segments'], batch['labelled']
    labels = np.full(ids.shape, ignore, dtype=np.int64)
    same = (segments[:, 1:] == segments[:, :-1]) & labelled[:, 1:]
    labels[:, :-1] = np.where(same, ids[:, 1:], ignore)
    return labels
