#!/usr/bin/env bash
# Issue 15 ("Embedded pair v2"): the commands that train, export and evaluate the v2 pair, one step per call.
# Every step is resumable (checkpoints every 4 minutes; run the same step again to continue) and uses one core.
#
#     bash models/train/pair-v2.sh target     # long target run from the shipped target (background)
#     bash models/train/pair-v2.sh draft      # draft distilled from the target export (background)
#     bash models/train/pair-v2.sh export     # export the latest checkpoints to runs/*/export
#     bash models/train/pair-v2.sh evaluate   # evaluate.py on the exported pair -> runs/evals/v2.txt
#
# Where the v2 pair stands: models/README.md ("Pair v2"). TARGET_STEPS / DRAFT_STEPS extend a run: while its
# learning rate is still constant (WSD schedule) a larger total simply continues it; the last DECAY steps decay.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RUNS=models/train/runs
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 TCMALLOC_RELEASE_RATE=0
# One core really means one: torch.set_num_threads(1) does not bound Debian torch's OpenBLAS, which otherwise runs
# its GEMMs on two threads (measured: CPU time = 1.9x wall time per step).
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
PY=(nice -n 10 /usr/bin/python3)

# Target: the shipped 6.82 M target (1,700 steps, 3.25 M tokens at 256) continued at 512 tokens. Steps are absolute
# (they count the shipped 1,700): warm start (AR, every 4th step block diffusion) then pure block diffusion, whose
# last TARGET_DECAY steps decay the learning rate linearly to 10 %.
TARGET_STEPS=${TARGET_STEPS:-8000}
TARGET_BD=${TARGET_BD:-1600}
TARGET_DECAY=${TARGET_DECAY:-1600}
# Draft: the shipped 1.84 M draft (3,000 steps) distilled from the target's export: pure block diffusion, loss =
# 0.2 * cross-entropy + 0.8 * KL(target || draft) at the masked positions.
DRAFT_STEPS=${DRAFT_STEPS:-5000}
DRAFT_DECAY=${DRAFT_DECAY:-600}
TEACHER=${TEACHER:-$RUNS/target-v2/export}

start() { # name args...: a background job that survives this shell, one thread
  local name=$1; shift
  mkdir -p "$RUNS/$name"
  local init=()
  [ -e "$RUNS/$name/ckpt.pt" ] || init=(--init-from "${INIT_FROM}")
  setsid nohup "${PY[@]}" models/train/train.py --out "$RUNS/$name" --resume "${init[@]}" "$@" \
    --export-to "$RUNS/$name/export" >> "$RUNS/$name/train.out" 2>&1 < /dev/null &
  echo "started $name (pid $!): tail -f $RUNS/$name/train.out"
}

case "${1:-}" in
  target)
    INIT_FROM=models/target start target-v2 --model target --window 512 --batch 4 --pack-lookahead 16 \
      --ar-steps $((TARGET_STEPS - TARGET_BD)) --bd-steps "$TARGET_BD" --bd-every 4 --schedule wsd \
      --decay-steps "$TARGET_DECAY" --warmup 150 --lr 2e-3 --eval-every 100 --heldout-rows 24 ;;
  draft)
    INIT_FROM=models/draft start draft-v2 --model draft --window 512 --batch 4 --pack-lookahead 16 \
      --ar-steps 3000 --bd-steps $((DRAFT_STEPS - 3000)) --schedule wsd --decay-steps "$DRAFT_DECAY" --warmup 100 \
      --lr 2e-3 --teacher "$TEACHER" --distill-weight 0.8 --eval-every 100 --heldout-rows 24 ;;
  export)
    for name in target-v2 draft-v2; do
      [ -e "$RUNS/$name/ckpt.pt" ] && "${PY[@]}" models/train/export.py --run "$RUNS/$name" --out "$RUNS/$name/export"
    done ;;
  evaluate)
    mkdir -p "$RUNS/evals"
    "${PY[@]}" models/train/evaluate.py --draft "${DRAFT:-$RUNS/draft-v2/export}" \
      --target "${TARGET:-$RUNS/target-v2/export}" > "$RUNS/evals/${OUT:-v2}.txt" 2>&1
    tail -n 1 "$RUNS/evals/${OUT:-v2}.txt" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
