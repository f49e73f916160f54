"""Evaluate an exported draft/target pair on held-out files. Prints a table, then one JSON line last.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 TCMALLOC_RELEASE_RATE=0 \
      nice -n 10 /usr/bin/python3 models/train/evaluate.py --draft models/draft --target models/target \
      [--write-manifest models/manifest.json]

1. masked-token accuracy at mask rates 0.15 / 0.5 / 0.9 (two-stream forward, argmax with MASK banned);
2. next-block exact match against the real continuation (native static decoding, decode.py);
3. draft/target agreement per token and per block on the same prefixes (a proxy for SimSD acceptance);
4. FIM: the target's first middle block after <|fim_middle|> vs. the same prefix without the suffix; FIM is
   declared usable when the suffix lifts token accuracy by at least FIM_MARGIN;
5. three completions each for Python, TypeScript and JavaScript held-out prefixes (target, vanilla-static, 64 tokens).
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import export as hf
from data import LANGUAGES, DocSet, Packer, add_noise
from decode import native_decode
from model import two_stream_mask

HERE = os.path.dirname(os.path.abspath(__file__))
PROMPT_TOKENS = 96
FIM_MARGIN = 0.02


class Detokenizer:
    """Byte-level BPE ids -> text (the GPT-2 byte table), special tokens spelled out."""

    def __init__(self, tokenizer_json):
        printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
        to_byte = {chr(b): b for b in printable}
        extra = 256
        for b in range(256):
            if b not in printable:
                to_byte[chr(extra)] = b
                extra += 1
        self.pieces = {i: bytes(to_byte[c] for c in tok) for tok, i in tokenizer_json['model']['vocab'].items()}
        self.pieces.update({t['id']: t['content'].encode() for t in tokenizer_json['added_tokens']})

    def __call__(self, ids):
        return b''.join(self.pieces[i] for i in ids).decode('utf-8', errors='replace')


def masked_accuracy(model, batch, rate, mask_id):
    noisy, masked, _ = add_noise(batch, np.random.default_rng(7), rate, rate, mask_id)
    ids = torch.cat([torch.from_numpy(noisy), torch.from_numpy(batch['ids'])], 1)
    pos = torch.from_numpy(batch['positions'])
    with torch.no_grad():
        h = model.hidden(ids, torch.cat([pos, pos], 1),
                         two_stream_mask(torch.from_numpy(batch['segments']), pos, model.shape.block_size))
    sel = torch.from_numpy(masked)
    logits = model.lm_head(h[:, :noisy.shape[1]][sel]).float()
    labels = torch.from_numpy(batch['ids'])[sel]
    nll = torch.nn.functional.cross_entropy(logits, labels).item()
    logits[:, mask_id] = float('-inf')
    return (logits.argmax(-1) == labels).float().mean().item(), nll


def shuffled(docs):
    """Held-out documents in a fixed random order, so every language is sampled (the files are grouped by source)."""
    return np.random.default_rng(0).permutation(len(docs)).tolist()


def block_examples(docs, count, prompt_tokens=PROMPT_TOKENS):
    """Held-out plain documents cut after prompt_tokens + 0..3 tokens (every leftover length occurs)."""
    examples = []
    for i in shuffled(docs):
        doc = docs.doc(i)
        cut = prompt_tokens + len(examples) % 4
        if not docs.is_fim(i) and len(doc) >= cut + 4:
            examples.append((doc[:cut].tolist(), doc[cut:cut + 4 - cut % 4].tolist()))
        if len(examples) == count:
            return examples
    return examples


def fim_examples(docs, ids, count):
    """Held-out FIM documents whose middle has at least one block: (FIM prompt, prefix-only prompt, middle)."""
    out = []
    for i in shuffled(docs):
        if not docs.is_fim(i):
            continue
        doc = docs.doc(i).tolist()
        s, m = doc.index(ids['<|fim_suffix|>']), doc.index(ids['<|fim_middle|>'])
        middle = doc[m + 1:doc.index(ids['<|endoftext|>'], m)]
        if len(middle) >= 4 and s > 1:
            out.append((doc[:m + 1], doc[1:s], middle))
        if len(out) == count:
            break
    return out


def token_match(pred, ref):
    n = len(ref)
    return sum(a == b for a, b in zip(pred[:n], ref)) / n, float(pred[:n] == ref)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--draft', default=os.path.join(HERE, '..', 'draft'))
    ap.add_argument('--target', default=os.path.join(HERE, '..', 'target'))
    ap.add_argument('--data', default=os.path.join(HERE, 'work', 'tokens'))
    ap.add_argument('--prefixes', type=int, default=128)
    ap.add_argument('--fim-examples', type=int, default=96)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--window', type=int, help="rows for the masked-token accuracy (default: the target's trained "
                    "context, training_args.json)")
    ap.add_argument('--prompt-tokens', type=int, default=PROMPT_TOKENS,
                    help='next-block prompts: held-out documents cut after this many tokens (+0..3)')
    ap.add_argument('--write-manifest', help='write the pair verdict (FIM, agreement) to this manifest.json')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    models = {name: hf.load_folder(path)[0].eval() for name, path in (('draft', args.draft), ('target', args.target))}
    with open(os.path.join(args.target, 'tokenizer.json')) as f:
        tok_json = json.load(f)
    ids = {t['content']: t['id'] for t in tok_json['added_tokens']}
    mask_id, stops = ids['<|mask|>'], (ids['<|endoftext|>'], ids['<|im_end|>'])
    detok = Detokenizer(tok_json)
    docs = DocSet(os.path.join(args.data, 'heldout'))
    trained = {n: hf.load_folder(p)[1] for n, p in (('draft', args.draft), ('target', args.target))}
    report = {'steps': {n: a['step'] for n, a in trained.items()}, 'phase': {n: a['phase'] for n, a in trained.items()}}

    window = args.window or trained['target']['hyper_parameters'].get('window', 256)
    report['window'] = window
    batch = Packer(docs, window, 4, ids['<|endoftext|>'], 0).next_batch(16 * 256 // window)
    print(f"{'metric':42s} {'draft':>10s} {'target':>10s}")
    for rate in (0.15, 0.5, 0.9):
        res = {n: masked_accuracy(m, batch, rate, mask_id) for n, m in models.items()}
        report[f'masked_acc@{rate}'] = {n: round(r[0], 4) for n, r in res.items()}
        report[f'masked_nll@{rate}'] = {n: round(r[1], 4) for n, r in res.items()}
        print(f"{f'masked-token accuracy / nll @ t={rate}':42s} "
              + ' '.join(f'{r[0]:5.1%}/{r[1]:4.2f}' for r in res.values()))

    examples = block_examples(docs, args.prefixes, args.prompt_tokens)
    report['prompt_tokens'] = args.prompt_tokens
    prompts = [p for p, _ in examples]
    decoded = {n: native_decode(m, prompts, 1, mask_id) for n, m in models.items()}
    for n in models:
        scores = np.array([token_match(d, ref) for d, (_, ref) in zip(decoded[n], examples)])
        report[f'next_block_{n}'] = {'token_acc': round(scores[:, 0].mean(), 4), 'exact': round(scores[:, 1].mean(), 4)}
    agree = np.array([token_match(d, t) for d, t in zip(decoded['draft'], decoded['target'])])
    report['agreement'] = {'per_token': round(agree[:, 0].mean(), 4), 'per_block': round(agree[:, 1].mean(), 4),
                           'prefixes': len(examples)}
    print(f"{'next block: token acc / exact match':42s} "
          + ' '.join(f"{report[f'next_block_{n}']['token_acc']:5.1%}/{report[f'next_block_{n}']['exact']:4.1%}"
                     for n in models))
    print(f'draft/target agreement on the next block: {agree[:, 0].mean():.1%} per token, {agree[:, 1].mean():.1%} '
          f'per block ({len(examples)} prefixes)')

    fims = fim_examples(docs, ids, args.fim_examples)
    target = models['target']
    with_suffix = native_decode(target, [f for f, _, _ in fims], 4, mask_id)
    prefix_only = native_decode(target, [p for _, p, _ in fims], 4, mask_id)
    acc_fim = float(np.mean([token_match(d[:4], m[:4])[0] for d, (_, _, m) in zip(with_suffix, fims)]))
    acc_pre = float(np.mean([token_match(d[:4], m[:4])[0] for d, (_, _, m) in zip(prefix_only, fims)]))
    report['fim'] = {'usable': bool(acc_fim >= acc_pre + FIM_MARGIN), 'middle_token_acc_with_suffix': round(acc_fim, 4),
                     'middle_token_acc_prefix_only': round(acc_pre, 4), 'examples': len(fims),
                     'rule': f'usable when the suffix lifts first-4-middle-token accuracy by >= {FIM_MARGIN:.0%} (target)'}
    print(f'target FIM, first 4 middle tokens: {acc_fim:.1%} with the suffix, {acc_pre:.1%} from the prefix only '
          f'({len(fims)} documents) -> fim {report["fim"]["usable"]}')

    completions = []
    for lang_id, lang in enumerate(LANGUAGES):
        picks = [i for i in range(len(docs)) if docs.index[i, 2] == lang_id and docs.index[i, 4] == 0
                 and not docs.is_fim(i) and docs.index[i, 1] >= PROMPT_TOKENS][:3]
        outs = native_decode(target, [docs.doc(i)[:PROMPT_TOKENS].tolist() for i in picks], 64, mask_id, stops)
        for i, out in zip(picks, outs):
            prompt_tail = '\n'.join(detok(docs.doc(i)[:PROMPT_TOKENS].tolist()).split('\n')[-4:])
            completions.append({'language': lang, 'prompt_tail': prompt_tail, 'completion': detok(out)})
            print(f'\n--- {lang} (held-out doc {i}) ---\n{prompt_tail}\u2588{detok(out)}')
    report['completions'] = completions
    report['eval_seconds'] = round(time.time() - t0, 1)
    if args.write_manifest:
        manifest = {'block_size': target.shape.block_size, 'draft': 'draft', 'target': 'target',
                    'fim': report['fim']['usable'], 'fim_measurement': report['fim'],
                    'agreement': report['agreement'], 'training_steps': report['steps'],
                    'trained_context_tokens': trained['target']['hyper_parameters']['window'], 'evaluated_with': 'models/train/evaluate.py'}
        with open(args.write_manifest, 'w') as f:
            json.dump(manifest, f, indent=1)
            f.write('\n')
    print(json.dumps(report))


if __name__ == '__main__':
    main()
