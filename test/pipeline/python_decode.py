"""The Python half of test/pipeline/python-twin.test.ts: the training recipe's own model (models/train/model.py) and
native static decoding (models/train/decode.py), run on an exported Hugging Face SDAR folder.

    /usr/bin/python3 test/pipeline/python_decode.py < request.json      # the answer is the last stdout line (JSON)

Request: {"jobs": [JOB, ...]}, answer {"jobs": [ANSWER, ...]} (one torch start-up for several exports), where
JOB:     {"export": DIR, "prompts": [[ids], ...], "tokens": N, "near_tie": EPS, "logits": {"ids": [...], "out": FILE}}
ANSWER:  {"ids": [[...], ...]           decode.native_decode (fp32 model, weights read from the export's BF16 file),
          "ids_fp64": [[...], ...]      the same decode with the model in float64 (a noise yardstick),
          "decisions": [[{...}], ...]   per prompt, every reveal of the fp32 trajectory with its two margins,
          "blocks": [[{...}], ...]      per prompt and canvas: out_start (output index of its first slot), robust,
                                        outcomes (final canvases reachable through near-ties; null: a token near-tie),
          "logits_rows": R}             FILE gets float32 [R, V] logits of one block-causal forward over "ids"

A decision: block (index of the canvas, counted from the prompt's first canvas), step, slot (canvas index), pos
(absolute position), token, token_margin (top-1 minus top-2 logit at that slot, MASK banned) and reveal_margin (log
confidence of the revealed slot minus the best log confidence among the holes left for later steps; null when no hole
is left). A margin under EPS is a near-tie that a different float path may legitimately resolve the other way. A
reveal-order near-tie is often harmless (both orders fill the canvas the same way: the smoke model writes one token
everywhere), so every such branch is explored; a canvas is robust when all branches end in the same tokens and no
revealed token was itself a near-tie.

Reads models/train/ through sys.path and never writes there. Weights: the export's model.safetensors (BF16 -> fp32 is
exact), the very bytes the TypeScript converter reads.
"""
import dataclasses
import itertools
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, '..', '..', 'models', 'train')
sys.path.insert(0, TRAIN)

import torch  # noqa: E402

from model import SdarModel, SdarShape, block_causal_mask  # noqa: E402
from decode import native_decode  # noqa: E402
from export import read_safetensors  # noqa: E402  (bytes → fp32 tensors; the twin compares the model code, not the reader)

BRANCH_BUDGET = 64  # forwards per block for exploring near-tie reveal orders


def load_export(folder):
    with open(os.path.join(folder, 'config.json')) as f:
        cfg = json.load(f)
    fields = {f.name for f in dataclasses.fields(SdarShape)}
    shape = SdarShape(**{k: v for k, v in cfg.items() if k in fields})
    if cfg.get('tie_word_embeddings'):
        raise ValueError('tied embeddings: the recipe exports an untied lm_head')
    model = SdarModel(shape)
    model.load_state_dict(read_safetensors(os.path.join(folder, 'model.safetensors')))
    return model.eval(), cfg


def step_logits(model, ids, positions, mask, start, mask_id, dtype):
    """One denoise step's view of the canvas at `start`: the top-2 (values, ids) per slot with MASK banned, the log
    softmax probability of each slot's argmax (its confidence, for margins), and (probability, token) exactly as
    decode.py computes them (for the replay, so that even exact ties are broken as there)."""
    bl = model.shape.block_size
    logits = model(ids, positions, mask)[0, start:start + bl].to(dtype)  # [bl, V]
    logits[:, mask_id] = float('-inf')
    top = logits.topk(2, dim=-1)
    conf, tok = torch.softmax(logits, dim=-1).max(dim=-1)
    return top, top.values[:, 0] - torch.logsumexp(logits, dim=-1), conf, tok


def block_outcomes(model, ids, positions, mask, start, step, mask_id, near_tie, budget):
    """Every final canvas (tuple) the static rule can reach from this canvas when each reveal ORDER decided by less
    than near_tie may go either way, or None when a TOKEN decided by less than near_tie is revealed (the outcome then
    depends on float noise) or when more than `budget` forwards would be needed. One outcome: the block is robust."""
    bl = model.shape.block_size
    canvas = ids[0, start:start + bl]
    holes = (canvas == mask_id).nonzero().flatten().tolist()
    if not holes:
        return {tuple(canvas.tolist())}
    if budget[0] <= 0:
        return None
    budget[0] -= 1
    top, logconf, _, _ = step_logits(model, ids, positions, mask, start, mask_id, torch.float32)
    n = math.ceil(len(holes) / (bl - step))
    order = sorted(holes, key=lambda j: (-float(logconf[j]), j))
    cut = float(logconf[order[n - 1]])
    runner_up = float(logconf[order[n]]) if n < len(holes) else -math.inf
    sure = [j for j in order[:n] if float(logconf[j]) > runner_up + near_tie]
    open_ = [j for j in holes if j not in sure and float(logconf[j]) >= cut - near_tie]
    outcomes = set()
    for extra in itertools.combinations(open_, n - len(sure)):
        chosen = sure + list(extra)
        if any(float(top.values[j, 0] - top.values[j, 1]) < near_tie for j in chosen):
            return None
        nxt = ids.clone()
        for j in chosen:
            nxt[0, start + j] = top.indices[j, 0]
        sub = block_outcomes(model, nxt, positions, mask, start, step + 1, mask_id, near_tie, budget)
        if sub is None:
            return None
        outcomes |= sub
    return outcomes


def traced_decode(model, prompt, num_tokens, mask_id, near_tie):
    """decode.native_decode for one prompt (static rule, fp32), recording each reveal's margins and whether each block
    is robust to near-ties. Returns (ids, decisions, blocks). The ids are checked against native_decode by the caller,
    so this replay cannot drift from the reference."""
    bl = model.shape.block_size
    seq, out, decisions, blocks = list(prompt), [], [], []
    with torch.no_grad():
        while len(out) < num_tokens:
            start = len(seq) // bl * bl
            width = start + bl
            ids = torch.full((1, width), mask_id, dtype=torch.long)
            ids[0, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            positions = torch.arange(width)[None]
            mask = block_causal_mask(torch.zeros(1, width, dtype=torch.long), positions, bl)
            outcomes = block_outcomes(model, ids, positions, mask, start, 0, mask_id, near_tie, [BRANCH_BUDGET])
            for step in range(bl):
                holes = (ids[0, start:] == mask_id).nonzero().flatten().tolist()
                if not holes:
                    break
                top, logconf, conf, tok = step_logits(model, ids, positions, mask, start, mask_id, torch.float32)
                conf[[j for j in range(bl) if j not in holes]] = float('-inf')
                order = conf.argsort(descending=True).tolist()[:len(holes)]  # decode.py's order
                n = math.ceil(len(holes) / (bl - step))
                later = order[n:]
                for j in order[:n]:
                    ids[0, start + j] = tok[j]
                    decisions.append({
                        'block': len(blocks), 'step': step, 'slot': j, 'pos': start + j, 'token': int(tok[j]),
                        'token_margin': float(top.values[j, 0] - top.values[j, 1]),
                        'reveal_margin': float(logconf[j] - max(logconf[k] for k in later)) if later else None,
                    })
            final = tuple(ids[0, start:width].tolist())
            if outcomes is not None and final not in outcomes:
                raise SystemExit(f'python_decode.py: internal: block at {start} ended {final}, not in {outcomes}')
            blocks.append({'out_start': max(0, start - len(prompt)), 'robust': outcomes is not None and len(outcomes) == 1,
                           'outcomes': None if outcomes is None else len(outcomes)})
            new = ids[0, len(seq):width].tolist()
            seq.extend(new)
            out.extend(new)
    return out, decisions, blocks


def run_job(job):
    model, cfg = load_export(job['export'])
    mask_id, n = cfg['mask_token_id'], job['tokens']
    prompts = job['prompts']
    # The reference: decode.py itself, one prompt per call (no batch padding), no stop ids (the TS side runs with
    # modelStopIds: false), whole blocks until at least n tokens.
    ids = [native_decode(model, [p], n, mask_id)[0] for p in prompts]
    decisions, blocks = [], []
    for p, ref in zip(prompts, ids):
        traced, d, b = traced_decode(model, p, n, mask_id, job['near_tie'])
        if traced != ref:
            raise SystemExit(f'python_decode.py: the traced replay {traced} differs from decode.native_decode {ref} '
                             f'for prompt {p} of {job["export"]}: has decode.py changed its rule? update traced_decode()')
        decisions.append(d)
        blocks.append(b)
    answer = {'ids': ids, 'decisions': decisions, 'blocks': blocks}
    if job.get('logits'):
        x = torch.tensor([job['logits']['ids']], dtype=torch.long)
        positions = torch.arange(x.shape[1])[None]
        mask = block_causal_mask(torch.zeros_like(x), positions, model.shape.block_size)
        with torch.no_grad():
            logits = model(x, positions, mask)[0].float().contiguous()
        with open(job['logits']['out'], 'wb') as f:
            f.write(logits.numpy().astype('<f4').tobytes())
        answer['logits_rows'] = logits.shape[0]
    model64 = model.double()
    answer['ids_fp64'] = [native_decode(model64, [p], n, mask_id)[0] for p in prompts]
    return answer


def main():
    req = json.load(sys.stdin)
    torch.set_num_threads(1)
    print(json.dumps({'jobs': [run_job(job) for job in req['jobs']]}, separators=(',', ':')))


if __name__ == '__main__':
    main()
