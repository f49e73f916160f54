"""The SDAR (Qwen3-layout) decoder in plain torch 1.13, with every attention mask explicit.

Matches the runtime contract of /models.md §1: RMSNorm eps 1e-6 in fp32, per-head QK-norm
before RoPE, RoPE θ=1e6 rotate-half, GQA, SwiGLU, no biases, untied lm_head, and NO token shift (the logit at
position i predicts the token at position i). Parameter names are the Hugging Face tensor names minus ".weight".
"""
import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn


@dataclasses.dataclass
class SdarShape:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int = 4096
    block_size: int = 4
    rope_theta: float = 1e6
    rms_norm_eps: float = 1e-6


SHAPES = {
    'draft': SdarShape(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                       head_dim=32, intermediate_size=384),
    'target': SdarShape(hidden_size=256, num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=2,
                        head_dim=64, intermediate_size=768),
    # Issue 15 sweep: between the draft (1.84 M) and the target (6.82 M); attention q width 192 (3 heads x 64, 1 KV).
    'mid4m': SdarShape(hidden_size=192, num_hidden_layers=6, num_attention_heads=3, num_key_value_heads=1,
                       head_dim=64, intermediate_size=576),
    'smoke': SdarShape(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       head_dim=16, intermediate_size=192),
}


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.to(torch.promote_types(dtype, torch.float32))  # fp32 at least (bf16 weights), fp64 in the mask check
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return (self.weight.to(x.dtype) * x).to(dtype)


def rope_cos_sin(positions, head_dim, theta):
    """positions [B, L] -> cos, sin [B, 1, L, head_dim] in fp32 (rotate-half layout: both halves share freqs)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = positions.to(torch.float32)[..., None] * inv_freq
    emb = torch.cat([freqs, freqs], dim=-1)[:, None]
    return emb.cos(), emb.sin()


def apply_rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    wide = torch.promote_types(x.dtype, torch.float32)
    return (x.to(wide) * cos.to(wide) + rotated.to(wide) * sin.to(wide)).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        self.q_proj = nn.Linear(s.hidden_size, s.num_attention_heads * s.head_dim, bias=False)
        self.k_proj = nn.Linear(s.hidden_size, s.num_key_value_heads * s.head_dim, bias=False)
        self.v_proj = nn.Linear(s.hidden_size, s.num_key_value_heads * s.head_dim, bias=False)
        self.o_proj = nn.Linear(s.num_attention_heads * s.head_dim, s.hidden_size, bias=False)
        self.q_norm = RMSNorm(s.head_dim, s.rms_norm_eps)
        self.k_norm = RMSNorm(s.head_dim, s.rms_norm_eps)

    def forward(self, x, cos, sin, mask):
        """x [B, L, H]; mask [B, L, L] bool, True = the query row may attend to the key column; or the tuple of
        two_stream_masks() for the [noisy | clean] training layout (the same attention, computed in half the work)."""
        s = self.s
        B, L, _ = x.shape
        group = s.num_attention_heads // s.num_key_value_heads
        q = self.q_norm(self.q_proj(x).view(B, L, s.num_attention_heads, s.head_dim)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(B, L, s.num_key_value_heads, s.head_dim)).transpose(1, 2)
        v = self.v_proj(x).view(B, L, s.num_key_value_heads, s.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if isinstance(mask, tuple):
            return self.o_proj(self._two_stream(q, k, v, mask))
        # GQA without copying K/V: query heads of one KV group are stacked along the row axis.
        q = q.reshape(B, s.num_key_value_heads, group * L, s.head_dim)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(s.head_dim)  # [B, Hkv, group*L, L]
        scores = scores.view(B, s.num_key_value_heads, group, L, L).masked_fill(~mask[:, None, None], float('-inf'))
        probs = torch.softmax(scores.to(torch.promote_types(scores.dtype, torch.float32)), dim=-1)
        out = probs.to(v.dtype).view(B, s.num_key_value_heads, group * L, L) @ v
        out = out.view(B, s.num_attention_heads, L, s.head_dim).transpose(1, 2).reshape(B, L, -1)
        return self.o_proj(out)

    def _two_stream(self, q, k, v, masks):
        """q [B, Hq, 2L, d], k/v [B, Hkv, 2L, d] over [noisy | clean]. Clean queries attend clean keys (block-causal);
        a noisy query attends strictly earlier clean blocks plus its own noisy block, so the clean->noisy quadrant
        (all masked) is skipped and the noisy->noisy one is computed per block: half the scores of the dense mask."""
        cc, nc, nn = masks
        s = self.s
        B, hkv, d = q.shape[0], s.num_key_value_heads, s.head_dim
        g, L, bl = s.num_attention_heads // hkv, q.shape[2] // 2, nn.shape[-1]
        scale = 1.0 / math.sqrt(d)
        wide = torch.promote_types(q.dtype, torch.float32)
        kn, kc, vn, vc = k[:, :, :L], k[:, :, L:], v[:, :, :L], v[:, :, L:]
        qn = q[:, :, :L].reshape(B, hkv, g * L, d)
        qc = q[:, :, L:].reshape(B, hkv, g * L, d)
        sc = (qc @ kc.transpose(-1, -2) * scale).view(B, hkv, g, L, L).masked_fill(~cc[:, None, None], float('-inf'))
        oc = torch.softmax(sc.to(wide), dim=-1).to(v.dtype).view(B, hkv, g * L, L) @ vc
        s1 = (qn @ kc.transpose(-1, -2) * scale).view(B, hkv, g, L, L).masked_fill(~nc[:, None, None], float('-inf'))
        qb = qn.view(B, hkv, g, L // bl, bl, d)
        s2 = (qb @ kn.reshape(B, hkv, 1, L // bl, bl, d).transpose(-1, -2) * scale)
        s2 = s2.masked_fill(~nn[:, None, None], float('-inf')).view(B, hkv, g, L, bl)
        probs = torch.softmax(torch.cat([s1, s2], dim=-1).to(wide), dim=-1).to(v.dtype)
        on = probs[..., :L].reshape(B, hkv, g * L, L) @ vc
        on = on + (probs[..., L:].reshape(B, hkv, g, L // bl, bl, bl) @ vn.reshape(B, hkv, 1, L // bl, bl, d)).view(
            B, hkv, g * L, d)
        out = torch.cat([on.view(B, s.num_attention_heads, L, d), oc.view(B, s.num_attention_heads, L, d)], dim=2)
        return out.transpose(1, 2).reshape(B, 2 * L, -1)


class Mlp(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.gate_proj = nn.Linear(s.hidden_size, s.intermediate_size, bias=False)
        self.up_proj = nn.Linear(s.hidden_size, s.intermediate_size, bias=False)
        self.down_proj = nn.Linear(s.intermediate_size, s.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.input_layernorm = RMSNorm(s.hidden_size, s.rms_norm_eps)
        self.self_attn = Attention(s)
        self.post_attention_layernorm = RMSNorm(s.hidden_size, s.rms_norm_eps)
        self.mlp = Mlp(s)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Backbone(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.embed_tokens = nn.Embedding(s.vocab_size, s.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(s) for _ in range(s.num_hidden_layers))
        self.norm = RMSNorm(s.hidden_size, s.rms_norm_eps)


class SdarModel(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.shape = s
        self.model = Backbone(s)
        self.lm_head = nn.Linear(s.hidden_size, s.vocab_size, bias=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
        for layer in self.model.layers:  # residual-branch outputs scaled down with depth (GPT-2 practice)
            for p in (layer.self_attn.o_proj.weight, layer.mlp.down_proj.weight):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * s.num_hidden_layers))

    def hidden(self, ids, positions, mask):
        """ids, positions [B, L]; mask [B, L, L] bool -> final-norm hidden states [B, L, H]."""
        cos, sin = rope_cos_sin(positions, self.shape.head_dim, self.shape.rope_theta)
        cos, sin = cos.to(self.lm_head.weight.dtype), sin.to(self.lm_head.weight.dtype)
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.model.norm(x)

    def forward(self, ids, positions, mask):
        return self.lm_head(self.hidden(ids, positions, mask))

    def hidden_two_stream(self, noisy, clean, segments, positions):
        """The SDAR training layout [noisy | clean] (inputs [B, L] each, one copy's segments/positions) -> final-norm
        hidden states [B, 2L, H]; equal to hidden() with two_stream_mask(), at half the attention cost."""
        ids = torch.cat([noisy, clean], dim=1)
        return self.hidden(ids, torch.cat([positions, positions], dim=1),
                           two_stream_masks(segments, positions, self.shape.block_size))


def block_causal_mask(segments, positions, block_size):
    """Clean (inference-time) attention: same document, key block <= query block. [B, L] -> [B, L, L]."""
    blocks = positions // block_size
    same_doc = segments[:, :, None] == segments[:, None, :]
    return same_doc & (blocks[:, None, :] <= blocks[:, :, None])


def causal_mask(segments, positions):
    """Autoregressive warm start: same document, key position <= query position."""
    same_doc = segments[:, :, None] == segments[:, None, :]
    return same_doc & (positions[:, None, :] <= positions[:, :, None])


def two_stream_masks(segments, positions, block_size):
    """The masks of two_stream_mask() in the factored form Attention._two_stream uses: clean->clean [B, L, L],
    noisy->clean [B, L, L] and noisy->own noisy block [B, L/bl, bl, bl]. Needs block-aligned rows (every document
    and the filler start at a column that is a multiple of bl with position 0), as the Packer lays them out."""
    B, L = segments.shape
    bl = block_size
    if L % bl or not bool((positions.view(B, L // bl, bl) % bl == torch.arange(bl)).all()):
        raise ValueError('two_stream_masks needs rows whose blocks are aligned to the columns')
    blocks = positions // bl
    same_doc = segments[:, :, None] == segments[:, None, :]
    q_block, k_block = blocks[:, :, None], blocks[:, None, :]
    seg_b = segments.view(B, L // bl, bl)
    return same_doc & (k_block <= q_block), same_doc & (k_block < q_block), seg_b[..., :, None] == seg_b[..., None, :]


def two_stream_mask(segments, positions, block_size):
    """SDAR training attention over [noisy copy | clean copy] (models.md §9). Inputs [B, L] describe one copy;
    returns [B, 2L, 2L]. Noisy rows see their own noisy block and strictly earlier clean blocks; clean rows see
    clean blocks up to their own. Documents never see each other."""
    blocks = positions // block_size
    same_doc = segments[:, :, None] == segments[:, None, :]
    q_block, k_block = blocks[:, :, None], blocks[:, None, :]
    noisy_noisy = same_doc & (q_block == k_block)
    noisy_clean = same_doc & (k_block < q_block)
    clean_clean = same_doc & (k_block <= q_block)
    top = torch.cat([noisy_noisy, noisy_clean], dim=2)
    bottom = torch.cat([torch.zeros_like(noisy_noisy), clean_clean], dim=2)
    return torch.cat([top, bottom], dim=1)
