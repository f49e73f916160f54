"""Cut the committed CI slice (models/train/smoke-data/) out of the tokenised corpus.

    /usr/bin/python3 models/train/make_smoke_data.py      (after tokenize.mjs)

Every 500th training document and every 40th held-out document (a few hundred KB in all), in the same .bin/.idx
format, plus the tokenizer files, so smoke.sh needs neither node nor the corpus.
"""
import os
import shutil

import numpy as np

from data import DocSet

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'smoke-data')


def write_slice(prefix, out_prefix, every):
    docs = DocSet(prefix)
    tokens, index = [], []
    offset = 0
    for i in range(0, len(docs), every):
        doc = docs.doc(i).astype('<u2')
        row = docs.index[i].copy()
        row[0], row[5] = offset, len(index)  # new offset; the file field becomes the slice's own numbering
        tokens.append(doc)
        index.append(row)
        offset += len(doc)
    np.concatenate(tokens).tofile(out_prefix + '.bin')
    np.stack(index).astype('<i4').tofile(out_prefix + '.idx')
    return len(index), offset


def main():
    os.makedirs(OUT, exist_ok=True)
    work = os.path.join(HERE, 'work')
    for split, every in (('train', 500), ('heldout', 40)):
        n, tokens = write_slice(os.path.join(work, 'tokens', split), os.path.join(OUT, split), every)
        print(f'{split}: {n} documents, {tokens} tokens')
    for name in ('tokenizer.json', 'tokenizer_config.json'):
        shutil.copyfile(os.path.join(work, 'tokenizer', name), os.path.join(OUT, name))


if __name__ == '__main__':
    main()
