"""Train one SDAR-format model (draft or target) on the tokenised corpus, resumably.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 TCMALLOC_RELEASE_RATE=0 \
      nice -n 10 /usr/bin/python3 models/train/train.py --model target --out models/train/runs/target \
      --ar-steps 3000 --bd-steps 3000 [--resume | --init-from models/target] [--export-to models/target]

Recipe (models/README.md): an autoregressive warm start (one stream, every position supervised: ~3x more labels
per FLOP than the two-stream objective, and SDAR itself starts from an AR model), then SDAR's block-diffusion
objective at bl=4 (interleaved every --bd-every steps during the warm start; two-stream layout, loss at masked noisy positions against the same position, weighted 1/p,
normalised by label tokens, p ~ U(0.3, 0.8)). One warmup + cosine schedule spans both phases, counted in steps.
A checkpoint (ckpt.pt, atomic rename) is written every --ckpt-every-s seconds and at the end.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import export as hf
from data import DocSet, Packer, add_noise, next_token_labels
from model import SHAPES, SdarModel, SdarShape, block_causal_mask, causal_mask, two_stream_mask

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', choices=sorted(SHAPES), required=True)
    ap.add_argument('--out', required=True, help='run folder: ckpt.pt, log.jsonl')
    ap.add_argument('--data', default=os.path.join(HERE, 'work', 'tokens'), help='folder with train/heldout .bin/.idx')
    ap.add_argument('--tokenizer-dir', default=os.path.join(HERE, 'work', 'tokenizer'))
    ap.add_argument('--ar-steps', type=int, required=True)
    ap.add_argument('--bd-steps', type=int, required=True)
    ap.add_argument('--bd-every', type=int, default=4, help='in the warm start, every n-th step is block diffusion')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--window', type=int, default=256)
    ap.add_argument('--pack-lookahead', type=int, default=0, help='best-fit packing over the next K documents '
                    '(data.Packer): 16 labels ~98 %% of a 512-token row instead of ~91 %%')
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--min-lr-ratio', type=float, default=0.1)
    ap.add_argument('--warmup', type=int, default=200, help='steps, counted from where this run started (so a '
                    '--init-from run warms its fresh optimiser up too)')
    ap.add_argument('--schedule', choices=('cosine', 'wsd'), default='cosine',
                    help='cosine: warmup + cosine to min-lr over all steps; wsd: warmup, constant, then a linear decay '
                    'over the last --decay-steps (a run can be extended with --resume while it is still constant)')
    ap.add_argument('--decay-steps', type=int, default=0, help='wsd: length of the final decay')
    ap.add_argument('--teacher', help='distillation: an exported HF folder (the target); its logits at the loss '
                    'positions become soft labels (KL) for this model')
    ap.add_argument('--distill-weight', type=float, default=1.0,
                    help='loss = (1 - w) * hard cross-entropy + w * KL(teacher || student), per label position')
    ap.add_argument('--max-wall-s', type=float, default=0,
                    help='stop (checkpoint, export) after this many seconds of this process; 0 = run to the end')
    ap.add_argument('--heldout-rows', type=int, default=16)
    ap.add_argument('--weight-decay', type=float, default=0.1)
    ap.add_argument('--t-min', type=float, default=0.3)
    ap.add_argument('--t-max', type=float, default=0.8)
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--log-every', type=int, default=20)
    ap.add_argument('--eval-every', type=int, default=200)
    ap.add_argument('--ckpt-every-s', type=float, default=240)
    ap.add_argument('--resume', action='store_true', help='continue from --out/ckpt.pt when it exists')
    ap.add_argument('--init-from', help='start from an exported HF folder (weights and step; fresh optimiser)')
    ap.add_argument('--export-to', help='export the final weights to this HF folder')
    return ap.parse_args()


def lr_at(step, args, start=0):
    total = args.ar_steps + args.bd_steps
    if step - start < args.warmup:
        return args.lr * (step - start + 1) / args.warmup
    if args.schedule == 'wsd':
        decay_from = total - args.decay_steps
        if step < decay_from:
            return args.lr
        progress = min(1.0, (step - decay_from) / max(1, args.decay_steps))
        return args.lr * (1 - (1 - args.min_lr_ratio) * progress)
    progress = min(1.0, (step - start - args.warmup) / max(1, total - start - args.warmup))
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + np.cos(np.pi * progress)))


def tensors(batch):
    return {k: torch.from_numpy(v) for k, v in batch.items()}


def mix_distill(logits, hard_ce, teacher_logits, weight):
    """Per position: (1 - w) * hard cross-entropy + w * KL(teacher || student) (same gradient as soft CE)."""
    if teacher_logits is None or weight == 0:
        return hard_ce
    t_logp = F.log_softmax(teacher_logits.float(), dim=-1)
    kl = (t_logp.exp() * (t_logp - F.log_softmax(logits, dim=-1))).sum(-1)
    return (1 - weight) * hard_ce + weight * kl


def ar_loss(model, batch, teacher=None, distill_weight=0.0):
    b = tensors(batch)
    labels = torch.from_numpy(next_token_labels(batch))
    mask = causal_mask(b['segments'], b['positions'])
    logits = model(b['ids'], b['positions'], mask)
    if teacher is None:
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
    sel = labels >= 0
    with torch.no_grad():
        t_logits = teacher.lm_head(teacher.hidden(b['ids'], b['positions'], mask)[sel])
    per = mix_distill(logits[sel], F.cross_entropy(logits[sel], labels[sel], reduction='none'), t_logits,
                      distill_weight)
    return per.mean()


def bd_loss(model, batch, rng, t_min, t_max, mask_id, block_size, teacher=None, distill_weight=0.0):
    """SDAR two-stream loss: rows are [noisy copy | clean copy] with the same positions. With a teacher, its logits
    at the same masked positions (same noisy input, same mask) are soft labels."""
    noisy, masked, p = add_noise(batch, rng, t_min, t_max, mask_id)
    b = tensors(batch)
    args = (torch.from_numpy(noisy), b['ids'], b['segments'], b['positions'])
    h = model.hidden_two_stream(*args)[:, :noisy.shape[1]]
    sel = torch.from_numpy(masked)
    logits = model.lm_head(h[sel])  # only masked noisy rows carry loss: skip the rest of the vocab projection
    ce = F.cross_entropy(logits, b['ids'][sel], reduction='none')
    t_logits = None
    if teacher is not None:
        with torch.no_grad():
            t_logits = teacher.lm_head(teacher.hidden_two_stream(*args)[:, :noisy.shape[1]][sel])
    ce = mix_distill(logits, ce, t_logits, distill_weight)
    weight = 1.0 / torch.from_numpy(p)[sel].float()
    return (ce * weight).sum() / b['labelled'].sum()


def check_two_stream(model, mask_id):
    """The noisy block's hidden state in the two-stream layout must equal the decode-time forward (clean context +
    that block, block-causal) -- the invariant that makes training match inference. Runs in float64 on a row that
    packs two documents, so document separation is checked too. Returns the max abs difference."""
    bl = model.shape.block_size
    m = SdarModel(model.shape).double()
    m.load_state_dict(model.state_dict())
    gen = torch.Generator().manual_seed(0)
    lengths = [3 * bl, 2 * bl]
    clean = torch.randint(0, mask_id, (1, sum(lengths)), generator=gen)
    segments = torch.cat([torch.full((n,), i) for i, n in enumerate(lengths)])[None]
    positions = torch.cat([torch.arange(n) for n in lengths])[None]
    noisy = torch.where(torch.rand(clean.shape, generator=gen) < 0.5, torch.tensor(mask_id), clean)
    with torch.no_grad():
        two = m.hidden_two_stream(noisy, clean, segments, positions)[0, :clean.shape[1]]
        dense = m.hidden(torch.cat([noisy, clean], 1), torch.cat([positions, positions], 1),
                         two_stream_mask(segments, positions, bl))[0]
        # The factored attention (training) equals the dense two-stream mask on both copies.
        worst_dense = (dense - m.hidden_two_stream(noisy, clean, segments, positions)[0]).abs().max().item()
        if worst_dense > 1e-6:
            raise RuntimeError(f'factored two-stream attention differs from the dense mask: {worst_dense:.3e}')
        worst, start = 0.0, 0
        for n in lengths:
            for k in range(n // bl):
                ids = torch.cat([clean[0, start:start + k * bl], noisy[0, start + k * bl:start + (k + 1) * bl]])[None]
                pos = torch.arange((k + 1) * bl)[None]
                dec = m.hidden(ids, pos, block_causal_mask(torch.zeros_like(pos), pos, bl))[0, k * bl:]
                worst = max(worst, (dec - two[start + k * bl:start + (k + 1) * bl]).abs().max().item())
            start += n
    if worst > 1e-6:
        raise RuntimeError(f'two-stream mask check failed: max |diff| = {worst:.3e}')
    return worst


def heldout_losses(model, batch, args, mask_id):
    model.eval()
    with torch.no_grad():
        rng = np.random.default_rng(0)
        out = {'heldout_ar': ar_loss(model, batch).item(),
               'heldout_bd': bd_loss(model, batch, rng, args.t_min, args.t_max, mask_id, model.shape.block_size).item()}
    model.train()
    return out


def device_name(threads):
    with open('/proc/cpuinfo') as f:
        name = next((line.split(':', 1)[1].strip() for line in f if line.startswith('model name')), 'cpu')
    return f'cpu ({name}), {threads} thread(s), torch {torch.__version__}'


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    ids = hf.special_ids(args.tokenizer_dir)
    mask_id, pad_id = ids['<|mask|>'], ids['<|endoftext|>']
    packer = Packer(DocSet(os.path.join(args.data, 'train')), args.window, 4, pad_id, args.seed, args.pack_lookahead)
    heldout = Packer(DocSet(os.path.join(args.data, 'heldout')), args.window, 4, pad_id, 0).next_batch(args.heldout_rows)
    model = SdarModel(SHAPES[args.model])
    ckpt_path = os.path.join(args.out, 'ckpt.pt')
    state = {'step': 0, 'tokens_seen': 0, 'wall_time_s': 0.0, 'loss_curve': [], 'start_step': 0}
    opt_state = None
    if args.resume and os.path.exists(ckpt_path):
        ckpt = torch.load(ckpt_path)
        model.load_state_dict(ckpt['model'])
        opt_state, state = ckpt['optimizer'], ckpt['state']
        packer.load_state(ckpt['packer'])
    elif args.init_from:
        model, prev = hf.load_folder(args.init_from)
        state.update({k: prev[k] for k in ('step', 'tokens_seen', 'wall_time_s', 'loss_curve')})
        state['start_step'] = state['step']  # the warmup of the fresh optimiser counts from here
        state['init_from'] = os.path.abspath(args.init_from)
        # The packer state is not in the export: continue from a fresh epoch seed so rows are not replayed.
        packer = Packer(packer.docs, args.window, 4, pad_id, args.seed + state['step'], args.pack_lookahead)
    teacher = None
    if args.teacher:
        teacher = hf.load_folder(args.teacher)[0].eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        state['teacher'] = os.path.abspath(args.teacher)
    print(f'two-stream mask check: max |diff| = {check_two_stream(model, mask_id):.2e} (float64)', flush=True)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay},
                             {'params': no_decay, 'weight_decay': 0.0}], lr=args.lr, betas=(0.9, 0.95))
    if opt_state:
        opt.load_state_dict(opt_state)
    rng = np.random.default_rng([args.seed, state['step']])
    params = sum(p.numel() for p in model.parameters())
    total = args.ar_steps + args.bd_steps
    print(f'{args.model}: {params / 1e6:.2f} M params, steps {state["step"]}..{total}', flush=True)

    def training_args(phase):
        return {**state, 'seed': args.seed, 'phase': phase, 'steps_total': total, 'parameters': params,
                'device': device_name(args.threads), 'tokens_per_s': state['tokens_seen'] / max(1.0, state['wall_time_s']),
                'hyper_parameters': {k: v for k, v in vars(args).items()
                                     if k not in ('out', 'resume', 'init_from', 'max_wall_s')},
                'shape': vars(model.shape)}

    def save(phase):
        torch.save({'model': model.state_dict(), 'optimizer': opt.state_dict(), 'state': state,
                    'packer': packer.state(), 'shape': vars(model.shape), 'training_args': training_args(phase)},
                   ckpt_path + '.tmp')
        os.replace(ckpt_path + '.tmp', ckpt_path)

    log = open(os.path.join(args.out, 'log.jsonl'), 'a')
    last_ckpt, window_loss, window_tokens, window_t0 = time.time(), {}, 0, time.time()
    phase = 'ar'
    process_t0 = time.time()
    start = state.get('start_step', 0)
    while state['step'] < total:
        if args.max_wall_s and time.time() - process_t0 > args.max_wall_s:
            print(f'--max-wall-s reached at step {state["step"]}', flush=True)
            break
        step = state['step']
        phase = 'ar' if step < args.ar_steps else 'bd'
        # Every --bd-every-th warm-start step is a block-diffusion step, so any checkpoint already decodes natively.
        objective = 'bd' if phase == 'bd' or (step + 1) % args.bd_every == 0 else 'ar'
        for g in opt.param_groups:
            g['lr'] = lr_at(step, args, start)
        t0, c0 = time.time(), time.process_time()
        batch = packer.next_batch(args.batch)
        if objective == 'ar':
            loss = ar_loss(model, batch, teacher, args.distill_weight)
        else:
            loss = bd_loss(model, batch, rng, args.t_min, args.t_max, mask_id, model.shape.block_size, teacher,
                           args.distill_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens = int(batch['labelled'].sum())
        state['step'] += 1
        state['tokens_seen'] += tokens
        state['wall_time_s'] += time.time() - t0
        state['cpu_time_s'] = state.get('cpu_time_s', 0.0) + time.process_time() - c0  # load-independent cost
        window_loss.setdefault(objective, []).append(loss.item())
        window_tokens += tokens
        if state['step'] % args.log_every == 0 or state['step'] == total:
            rec = {'step': state['step'], 'phase': phase,
                   **{f'loss_{k}': float(np.mean(v)) for k, v in sorted(window_loss.items())},
                   'lr': lr_at(step, args, start), 'tokens_per_s': window_tokens / (time.time() - window_t0),
                   'tokens_seen': state['tokens_seen'], 'wall_s': round(state['wall_time_s'], 1),
                   'cpu_s': round(state.get('cpu_time_s', 0.0), 1)}
            if state['step'] % args.eval_every == 0 or state['step'] == total:
                rec.update(heldout_losses(model, heldout, args, mask_id))
                state['loss_curve'].append({k: v for k, v in rec.items()
                                            if k.startswith(('step', 'loss', 'heldout', 'tokens_seen', 'wall_s', 'cpu_s'))})
            log.write(json.dumps(rec) + '\n')
            log.flush()
            print(' '.join(f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}' for k, v in rec.items()), flush=True)
            window_loss, window_tokens, window_t0 = {}, 0, time.time()
        if time.time() - last_ckpt > args.ckpt_every_s:
            save(phase)
            last_ckpt = time.time()
    if state['step'] % args.eval_every and (not state['loss_curve'] or state['loss_curve'][-1]['step'] != state['step']):
        rec = {'step': state['step'], 'phase': phase, 'tokens_seen': state['tokens_seen'],
               'wall_s': round(state['wall_time_s'], 1), 'cpu_s': round(state.get('cpu_time_s', 0.0), 1),
               **heldout_losses(model, heldout, args, mask_id)}
        state['loss_curve'].append(rec)
        log.write(json.dumps(rec) + '\n')
        log.flush()
        print(' '.join(f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}' for k, v in rec.items()), flush=True)
    save(phase)
    if args.export_to:
        hf.export(model, args.export_to, args.tokenizer_dir, training_args(phase))
        print(f'exported to {args.export_to}', flush=True)


if __name__ == '__main__':
    main()
