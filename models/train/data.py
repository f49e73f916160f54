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
    """Walks a seeded permutation of the documents, epoch after epoch; its state is two integers, so a resumed run
    continues with exactly the rows it would have seen."""

    def __init__(self, docs, window, block_size, pad_id, seed):
        self.docs, self.window, self.block_size, self.pad_id, self.seed = docs, window, block_size, pad_id, seed
        self.epoch, self.cursor = 0, 0
        self.order = self._order()
        self.pending = None  # the document read but not yet placed (it did not fit the previous row)

    def _order(self):
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.docs))

    def state(self):
        # A pending document is re-read on resume, so the state points at it.
        return {'epoch': self.epoch, 'cursor': self.cursor - (self.pending is not None)}

    def load_state(self, state):
        self.epoch, self.cursor, self.pending = state['epoch'], state['cursor'], None
        self.order = self._order()

    def _next_doc(self):
        if self.cursor == len(self.order):
            self.epoch, self.cursor = self.epoch + 1, 0
            self.order = self._order()
        doc = self.docs.doc(self.order[self.cursor])
        self.cursor += 1
        pad = (-len(doc)) % self.block_size
        return np.concatenate([doc, np.full(pad, self.pad_id, dtype=np.int64)])[:self.window]

    def next_batch(self, batch_size):
        """-> dict of [B, W] arrays: ids, segments (document number in the row, -1 = filler), positions,
        labelled (bool). The document that no longer fits opens the next row."""
        ids = np.full((batch_size, self.window), self.pad_id, dtype=np.int64)
        segments = np.full((batch_size, self.window), -1, dtype=np.int64)
        positions = np.zeros((batch_size, self.window), dtype=np.int64)
        for row in range(batch_size):
            used, seg = 0, 0
            while True:
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
