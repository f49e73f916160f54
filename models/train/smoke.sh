#!/usr/bin/env bash
# CI smoke for the training recipe: train a 0.6 M-parameter SDAR model for a few steps on the committed slice
# (models/train/smoke-data/), export it in the full Hugging Face layout, read it back, decode and evaluate it.
#
#     bash models/train/smoke.sh [OUT_DIR]      # prints OUT_DIR (the HF folder) as the last line; < 1 minute
#
# Needs only Debian packages (no node, no corpus, no network):
#     apt-get install python3-torch python3-numpy libopenblas0-pthread libtcmalloc-minimal4
# (libtcmalloc-minimal4 is optional: it is preloaded when present, because glibc malloc page-faults badly here.)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$(mktemp -d /tmp/sdar-smoke.XXXXXX)}"
RUN="$(mktemp -d /tmp/sdar-smoke-run.XXXXXX)"
trap 'rm -rf "$RUN"' EXIT
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
if [ -e "$TCMALLOC" ]; then export LD_PRELOAD="$TCMALLOC" TCMALLOC_RELEASE_RATE=0; fi
DATA="$HERE/smoke-data"

/usr/bin/python3 "$HERE/train.py" --model smoke --out "$RUN" --data "$DATA" --tokenizer-dir "$DATA" \
  --ar-steps 8 --bd-steps 8 --batch 4 --warmup 4 --log-every 4 --eval-every 8 --export-to "$OUT" >&2

for f in config.json generation_config.json model.safetensors tokenizer.json tokenizer_config.json \
         training_args.json manifest.json; do
  [ -s "$OUT/$f" ] || { echo "smoke: missing $OUT/$f" >&2; exit 1; }
done

# Read the export back (bf16 safetensors -> fp32), check names and shapes, and decode natively from it.
HERE="$HERE" /usr/bin/python3 - "$OUT" "$DATA" >&2 <<'EOF'
import json, os, sys
sys.path.insert(0, os.environ['HERE'])
import export
from decode import native_decode
out, data = sys.argv[1], sys.argv[2]
cfg = json.load(open(os.path.join(out, 'config.json')))
tensors = export.read_safetensors(os.path.join(out, 'model.safetensors'))
L, H, V = cfg['num_hidden_layers'], cfg['hidden_size'], cfg['vocab_size']
assert tensors['model.embed_tokens.weight'].shape == (V, H) and tensors['lm_head.weight'].shape == (V, H)
assert tensors[f'model.layers.{L - 1}.mlp.down_proj.weight'].shape == (H, cfg['intermediate_size'])
assert len(tensors) == 11 * L + 3, len(tensors)
model, _ = export.load_folder(out)
ids = native_decode(model.eval(), [[1, 2, 3, 4, 5, 6]], 8, cfg['mask_token_id'])[0]
assert len(ids) >= 8 and cfg['mask_token_id'] not in ids, ids
print(f'smoke: export read back ({len(tensors)} tensors), decoded {ids}')
EOF
# The evaluation script end to end (the export plays both draft and target); its last line must be JSON.
/usr/bin/python3 "$HERE/evaluate.py" --draft "$OUT" --target "$OUT" --data "$DATA" --prefixes 8 --fim-examples 4 \
  | tail -n 1 | /usr/bin/python3 -c 'import json, sys; r = json.load(sys.stdin); print("smoke: evaluate ok", r["agreement"])' >&2
echo "$OUT"
