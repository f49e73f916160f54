"""Native SDAR block decoding (vanilla-static) for evaluation: the behavioural reference the extension's
`vanilla-static` strategy must reproduce, written for clarity, not speed (no KV cache: every step re-runs the whole
sequence with the block-causal mask, which gives the same logits as committed clean K/V + canvas).

Rules (decoding.md, models.md §9): blocks are counted from position 0 of the prompt; the prompt's tail of
L mod bl tokens (the leftover) opens the first canvas; each block takes bl denoising steps at most, and each step
reveals ceil(holes / steps left) holes, highest confidence first (static reveal rule); the token is the argmax with
the MASK id banned; confidence is its softmax probability over the full vocabulary, in fp32.
"""
import math

import torch

from model import block_causal_mask


def native_decode(model, prompts, num_tokens, mask_id, stop_ids=()):
    """prompts: list of token-id lists (any lengths). Returns, per prompt, the tokens decoded after it: whole blocks
    until at least num_tokens, cut at the first stop id (kept out)."""
    bl = model.shape.block_size
    seqs = [list(p) for p in prompts]
    outs = [[] for _ in prompts]
    done = [False] * len(prompts)
    with torch.no_grad():
        while not all(done):
            starts = [len(s) // bl * bl for s in seqs]  # canvas start per row
            width = max(starts) + bl
            ids = torch.full((len(seqs), width), mask_id, dtype=torch.long)
            segments = torch.full((len(seqs), width), -1, dtype=torch.long)  # -1: right padding, attends to itself
            for row, s in enumerate(seqs):
                ids[row, :len(s)] = torch.tensor(s, dtype=torch.long)
                segments[row, :starts[row] + bl] = 0
            positions = torch.arange(width).expand(len(seqs), width)
            mask = block_causal_mask(segments, positions, bl)
            cols = torch.tensor(starts)[:, None] + torch.arange(bl)  # [B, bl]
            for step in range(bl):
                canvas = ids.gather(1, cols)
                holes = canvas == mask_id
                if not holes.any():
                    break
                logits = model(ids, positions, mask).float()
                logits = logits.gather(1, cols[..., None].expand(-1, -1, logits.shape[-1]))  # [B, bl, V]
                logits[..., mask_id] = float('-inf')
                conf, tok = torch.softmax(logits, dim=-1).max(dim=-1)
                conf = conf.masked_fill(~holes, float('-inf'))
                order = conf.argsort(dim=-1, descending=True)
                for row in range(len(seqs)):
                    n = math.ceil(int(holes[row].sum()) / (bl - step))
                    for j in order[row, :n].tolist():
                        ids[row, starts[row] + j] = tok[row, j]
            for row, s in enumerate(seqs):
                if done[row]:
                    continue
                new = ids[row, len(s):starts[row] + bl].tolist()
                s.extend(new)
                outs[row].extend(new)
                stop_at = next((i for i, t in enumerate(outs[row]) if t in stop_ids), None)
                if stop_at is not None:
                    outs[row] = outs[row][:stop_at]
                    done[row] = True
                elif len(outs[row]) >= num_tokens:
                    done[row] = True
    return outs
