#!/usr/bin/env bash
# The whole real-editor e2e: setup.sh (idempotent), then B (harness/run.sh), then A (ui/run.sh) N times.
#
#   test/e2e/run-all.sh [--repeat N] [--skip-setup]
#
# --repeat N (or SIMSD_E2E_REPEAT=N): run A N times in a row; default 1 (CI). `--repeat 3` is the
# "passes 3 runs in a row" acceptance check. The first A run packages the VSIX (unless SIMSD_VSIX is set); the
# repeats install that same VSIX, so they test the same bits.
# Every run goes on even after a failure; the exit status is non-zero if any step failed.
# If SIMSD_E2E_OUT is set, each run writes into its own subfolder: harness/, ui-1/, ui-2/, …
# Other env (TOOLS, SIMSD_EXT, SIMSD_VSIX, timeouts) passes through: see test/e2e/README.md.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPEAT="${SIMSD_E2E_REPEAT:-1}"
SETUP=1
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) REPEAT="${2:?--repeat needs a number}"; shift 2 ;;
    --repeat=*) REPEAT="${1#--repeat=}"; shift ;;
    --skip-setup) SETUP=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run-all: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { echo "run-all: --repeat wants a positive number, got '$REPEAT'" >&2; exit 2; }

BASE_OUT="${SIMSD_E2E_OUT:-}"
out_for() { [ -n "$BASE_OUT" ] && echo "$BASE_OUT/$1" || echo ""; }
RESULTS=()
FAILED=0
T0=$(date +%s)

step() {  # step NAME OUTDIR CMD...
  local name="$1" out="$2"; shift 2
  local t; t=$(date +%s)
  echo "=== run-all: $name ===" >&2
  local last rc
  # pipefail: the substitution's status is the script's when it fails.
  if [ -n "$out" ]; then
    last=$(SIMSD_E2E_OUT="$out" "$@" | tee -a /dev/stderr | tail -1); rc=$?
  else
    last=$(env -u SIMSD_E2E_OUT "$@" | tee -a /dev/stderr | tail -1); rc=$?
  fi
  RESULTS+=("$name: rc $rc, $(( $(date +%s) - t )) s, ${last:-no summary}")
  [ "$rc" = 0 ] || FAILED=$((FAILED + 1))
  return "$rc"
}

if [ "$SETUP" = 1 ]; then
  step setup "" "$HERE/setup.sh" || { echo "run-all: setup failed" >&2; printf '%s\n' "${RESULTS[@]}"; exit 1; }
fi
step harness "$(out_for harness)" "$HERE/harness/run.sh"

source "$HERE/lib.sh"   # for SIMSD_EXT
for i in $(seq 1 "$REPEAT"); do
  if [ "$i" -gt 1 ] && [ -z "${SIMSD_VSIX:-}" ] && [ -f "$SIMSD_EXT/dist/simsd-linux-x64.vsix" ]; then
    SIMSD_VSIX="$SIMSD_EXT/dist/simsd-linux-x64.vsix" step "ui $i/$REPEAT" "$(out_for "ui-$i")" "$HERE/ui/run.sh"
  else
    step "ui $i/$REPEAT" "$(out_for "ui-$i")" "$HERE/ui/run.sh"
  fi
done

echo "=== run-all summary ($(( $(date +%s) - T0 )) s) ===" >&2
printf '  %s\n' "${RESULTS[@]}" >&2
TOTAL=${#RESULTS[@]}
echo "run-all: $((TOTAL - FAILED)) of $TOTAL steps passed"
[ "$FAILED" = 0 ]
