"""Write a checkpoint as a Hugging Face SDAR folder, and read such a folder back.

    /usr/bin/python3 models/train/export.py --run models/train/runs/target --out models/target
    /usr/bin/python3 models/train/export.py --run models/train/runs/draft --out models/draft

Files: config.json (Qwen3 fields + block_size, mask_token_id), generation_config.json, model.safetensors (BF16, HF
tensor names, [out, in]), tokenizer.json, tokenizer_config.json, training_args.json, manifest.json (bl, ids, sha256).
safetensors is written by hand (no Debian package): u64 LE header length, JSON header, raw little-endian data.
"""
import argparse
import hashlib
import json
import os
import shutil
import struct

import torch

from model import SdarModel, SdarShape

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER_FILES = ('tokenizer.json', 'tokenizer_config.json')
MAX_POSITIONS = 4096
DTYPES = {torch.bfloat16: 'BF16', torch.float16: 'F16', torch.float32: 'F32'}


def special_ids(tokenizer_dir):
    with open(os.path.join(tokenizer_dir, 'tokenizer.json')) as f:
        added = json.load(f)['added_tokens']
    return {t['content']: t['id'] for t in added}


def write_safetensors(path, tensors):
    """tensors: name -> contiguous CPU tensor. Offsets are relative to the start of the data section."""
    header, offset = {}, 0
    for name, t in tensors.items():
        size = t.numel() * t.element_size()
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + size]}
        offset += size
    header['__metadata__'] = {'format': 'pt'}
    raw = json.dumps(header, separators=(',', ':')).encode()
    raw += b' ' * ((-len(raw)) % 8)  # align the data section to 8 bytes, as the reference writer does
    with open(path + '.tmp', 'wb') as f:
        f.write(struct.pack('<Q', len(raw)))
        f.write(raw)
        for t in tensors.values():
            # bf16 has no numpy dtype: write its bits through an int16 view (little-endian on x86).
            f.write((t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes())
    os.replace(path + '.tmp', path)


def read_safetensors(path):
    """-> name -> fp32 tensor (bf16 -> fp32 is exact)."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == '__metadata__':
            continue
        begin, end = meta['data_offsets']
        buf = bytearray(data[begin:end])
        if meta['dtype'] == 'BF16':
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(buf, dtype={'F16': torch.float16, 'F32': torch.float32}[meta['dtype']])
        out[name] = t.reshape(meta['shape']).float()
    return out


def config_json(shape, ids):
    return {
        'architectures': ['SDARForCausalLM'], 'model_type': 'sdar', 'attention_bias': False, 'attention_dropout': 0.0,
        'hidden_act': 'silu', 'hidden_size': shape.hidden_size, 'num_hidden_layers': shape.num_hidden_layers,
        'num_attention_heads': shape.num_attention_heads, 'num_key_value_heads': shape.num_key_value_heads,
        'head_dim': shape.head_dim, 'intermediate_size': shape.intermediate_size, 'vocab_size': shape.vocab_size,
        'max_position_embeddings': MAX_POSITIONS, 'rope_theta': shape.rope_theta, 'rope_scaling': None,
        'rms_norm_eps': shape.rms_norm_eps, 'tie_word_embeddings': False, 'torch_dtype': 'bfloat16',
        'initializer_range': 0.02, 'use_sliding_window': False, 'sliding_window': None,
        'max_window_layers': shape.num_hidden_layers, 'use_cache': True,
        'bos_token_id': ids['<|endoftext|>'], 'eos_token_id': ids['<|endoftext|>'],
        'pad_token_id': ids['<|endoftext|>'], 'block_size': shape.block_size, 'mask_token_id': ids['<|mask|>'],
    }


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def export(model, out_dir, tokenizer_dir, training_args):
    """Writes the folder atomically enough for a reader: every file is renamed into place when complete."""
    os.makedirs(out_dir, exist_ok=True)
    shape = model.shape
    ids = special_ids(tokenizer_dir)
    tensors = {name: p.detach().to(torch.bfloat16).contiguous() for name, p in model.state_dict().items()}
    write_safetensors(os.path.join(out_dir, 'model.safetensors'), tensors)
    for name in TOKENIZER_FILES:
        if os.path.abspath(tokenizer_dir) != os.path.abspath(out_dir):
            shutil.copyfile(os.path.join(tokenizer_dir, name), os.path.join(out_dir, name))
    documents = {
        'config.json': config_json(shape, ids),
        'generation_config.json': {'bos_token_id': ids['<|endoftext|>'],
                                   'eos_token_id': [ids['<|im_end|>'], ids['<|endoftext|>']],
                                   'pad_token_id': ids['<|endoftext|>'], 'do_sample': False},
        'training_args.json': training_args,
    }
    for name, doc in documents.items():
        with open(os.path.join(out_dir, name), 'w') as f:
            json.dump(doc, f, indent=1)
            f.write('\n')
    params = sum(p.numel() for p in model.parameters())
    manifest = {
        'block_size': shape.block_size, 'parameters': params, 'weights_dtype': 'bfloat16',
        'trained_context_tokens': training_args['hyper_parameters']['window'],
        'ids': {k: ids[k] for k in ('<|endoftext|>', '<|mask|>', '<|fim_prefix|>', '<|fim_suffix|>',
                                    '<|fim_middle|>', '<|im_start|>', '<|im_end|>')},
        'stop_ids': [ids['<|im_end|>'], ids['<|endoftext|>']],
        'sha256': {name: sha256(os.path.join(out_dir, name))
                   for name in ('config.json', 'model.safetensors') + TOKENIZER_FILES},
    }
    with open(os.path.join(out_dir, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    return params


def load_folder(folder):
    """HF folder -> (SdarModel in fp32, training_args dict). Lets training resume from shipped weights."""
    with open(os.path.join(folder, 'config.json')) as f:
        cfg = json.load(f)
    shape = SdarShape(**{k: cfg[k] for k in ('hidden_size', 'num_hidden_layers', 'num_attention_heads',
                                             'num_key_value_heads', 'head_dim', 'intermediate_size', 'vocab_size',
                                             'block_size', 'rope_theta', 'rms_norm_eps')})
    model = SdarModel(shape)
    model.load_state_dict(read_safetensors(os.path.join(folder, 'model.safetensors')))
    with open(os.path.join(folder, 'training_args.json')) as f:
        return model, json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--run', required=True, help='run folder holding ckpt.pt (train.py --out)')
    ap.add_argument('--out', required=True, help='HF folder to write, e.g. models/target')
    ap.add_argument('--tokenizer-dir', default=os.path.join(HERE, 'work', 'tokenizer'))
    args = ap.parse_args()
    ckpt = torch.load(os.path.join(args.run, 'ckpt.pt'))
    model = SdarModel(SdarShape(**ckpt['shape']))
    model.load_state_dict(ckpt['model'])
    tokenizer_dir = args.tokenizer_dir if os.path.exists(args.tokenizer_dir) else args.out
    params = export(model, args.out, tokenizer_dir, ckpt['training_args'])
    print(json.dumps({'out': args.out, 'step': ckpt['training_args']['step'], 'parameters': params,
                      'phase': ckpt['training_args']['phase']}))


if __name__ == '__main__':
    main()
