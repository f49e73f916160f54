#!/usr/bin/env bash
# Approach A (testing.md §6.3): the packaged VSIX in a fresh code-server profile, driven through the web UI
# by playwright-core + Debian Chromium (ui/e2e.mjs).
# Last stdout line: `e2e: N passed, N failed`. Exit 0 only if every check passed.
#
# env: TOOLS                        toolchain folder (test/e2e/setup.sh), default $HOME/.cache/simsd-e2e-tools
#      SIMSD_VSIX                   test this VSIX as is (no packaging)
#      SIMSD_EXT                    else: the extension checkout to package with `npm run package`, which must
#                                   write dist/simsd-linux-x64.vsix (default: this repository)
#      SIMSD_E2E_OUT                output folder (result.json, screenshots, logs), default $W/out
#      SIMSD_E2E_READY_TIMEOUT_S    status bar must show ready within this (default 180)
#      SIMSD_E2E_GHOST_TIMEOUT_S    each ghost text within this (default 30; the first per file 3×)
#      SIMSD_E2E_GENERATE_TIMEOUT_S Generate Code must finish within this (default 180)
#      SIMSD_E2E_TIMEOUT_S          kill the browser run after this (default 900)
#      SIMSD_E2E_KEEP=1             keep $W even when everything passed
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

T_START=$(date +%s.%N)
elapsed() { awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
RC=2
OUT=""

finish() {
  local teardown_ok=1 t_td
  t_td=$(date +%s.%N)
  e2e_teardown || teardown_ok=0
  [ -n "${HUB_PID:-}" ] && kill "$HUB_PID" 2>/dev/null
  local teardown_s; teardown_s=$(awk -v a="$t_td" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  local passed=0 failed=1
  if [ -n "$OUT" ] && [ -f "$OUT/result.json" ]; then
    # Add the runner's totals to result.json; a failed teardown is one more failure.
    node -e '
      const fs = require("fs"); const [f, total, td, ok] = process.argv.slice(1);
      const r = JSON.parse(fs.readFileSync(f, "utf8"));
      r.shellTimings = Object.assign(r.shellTimings || {}, { teardownS: +td, totalS: +total });
      r.teardownClean = ok === "1";
      if (!r.teardownClean) { r.checks.push({ name: "teardown", ok: false, error: "processes left in the group" }); r.failed++; }
      fs.writeFileSync(f, JSON.stringify(r, null, 2));
    ' "$OUT/result.json" "$(elapsed)" "$teardown_s" "$teardown_ok"
    passed=$(node -p "require('$OUT/result.json').passed")
    failed=$(node -p "require('$OUT/result.json').failed")
  fi
  [ "$failed" = 0 ] && [ "$RC" = 0 ] || { [ "$RC" = 0 ] && RC=1; }
  if [ -n "${W:-}" ]; then
    if [ -n "$OUT" ]; then
      # The SimSD OutputChannel as VS Code mirrors it to disk, for latency splits and post-mortems.
      for f in "$W"/user/logs/*/exthost1/output_logging_*/*SimSD*.log; do [ -f "$f" ] && cp "$f" "$OUT/simsd-output.log"; done
    fi
    e2e_keep_or_clean "$RC" "$OUT"
  fi
  e2e_log "e2e total $(elapsed) s (teardown ${teardown_s} s); output ${OUT:-none}"
  echo "e2e: $passed passed, $failed failed"
  exit "$RC"
}
trap finish EXIT
trap 'exit 130' INT TERM

e2e_check_tools || exit 2

# --- the VSIX ---------------------------------------------------------------------------------------------------
if [ -n "${SIMSD_VSIX:-}" ]; then
  VSIX="$(cd "$(dirname "$SIMSD_VSIX")" && pwd)/$(basename "$SIMSD_VSIX")"
  [ -f "$VSIX" ] || { e2e_log "SIMSD_VSIX=$SIMSD_VSIX not found"; exit 2; }
  PACKAGE_S=0
else
  VSIX="$SIMSD_EXT/dist/simsd-linux-x64.vsix"
  rm -f "$VSIX"
  e2e_log "npm run package in $SIMSD_EXT"
  t=$(date +%s.%N)
  (cd "$SIMSD_EXT" && npm run package) >&2 || { e2e_log "npm run package failed"; exit 2; }
  PACKAGE_S=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  [ -f "$VSIX" ] || { e2e_log "npm run package did not write $VSIX"; exit 2; }
fi
e2e_log "VSIX $VSIX ($(du -h "$VSIX" | cut -f1))"

# --- profile, install, serve --------------------------------------------------------------------------------------
e2e_workdir
OUT="${SIMSD_E2E_OUT:-$W/out}"
mkdir -p "$OUT"
rm -f "$OUT/result.json"
e2e_log "W=$W OUT=$OUT"

t=$(date +%s.%N)
PATH="$NODE24:$PATH" outside_npm "$CS" --user-data-dir "$W/user" --extensions-dir "$W/exts" --install-extension "$VSIX" >"$W/install.log" 2>&1 \
  || { cat "$W/install.log" >&2; e2e_log "installing the VSIX failed"; exit 2; }
ls -d "$W"/exts/simsd.simsd-* >/dev/null 2>&1 || { cat "$W/install.log" >&2; e2e_log "simsd.simsd not in $W/exts after install"; exit 2; }
INSTALL_S=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')

# A stand-in Hugging Face Hub on loopback for the Select Models check: the embedded pair served as the paper's pair,
# gated by a token (the test sets it through SecretStorage); the profile points simsd.hub.endpoint at it.
HUB_TOKEN="hf_e2e_$(date +%s)"
(cd "$REPO" && npx --no-install esbuild test/tools/hub-serve.ts --bundle --platform=node --format=cjs --outfile="$W/hub-serve.js" --log-level=warning) >&2 \
  || { e2e_log "building the stand-in hub failed"; exit 2; }
node "$W/hub-serve.js" --repo "JetLM/SDAR-8B-Chat=$SIMSD_EXT/models/target" --repo "JetLM/SDAR-1.7B-Chat=$SIMSD_EXT/models/draft" \
  --token "$HUB_TOKEN" > "$W/hub.json" 2> "$W/hub.log" &
HUB_PID=$!
for i in $(seq 1 100); do [ -s "$W/hub.json" ] && break; sleep 0.1; done
HUB_ENDPOINT="$(node -p "require('$W/hub.json').endpoint" 2>/dev/null)" || { e2e_log "the stand-in hub did not start: $(cat "$W/hub.log")"; exit 2; }
node -e "const f=process.argv[1];const s=JSON.parse(require('fs').readFileSync(f,'utf8'));s['simsd.hub.endpoint']=process.argv[2];require('fs').writeFileSync(f,JSON.stringify(s,null,2))" \
  "$W/user/User/settings.json" "$HUB_ENDPOINT"
export HUB_TOKEN HUB_ENDPOINT
e2e_log "stand-in hub $HUB_ENDPOINT (pid $HUB_PID)"

t=$(date +%s.%N)
# The Hub cache of the pulled models lives in $W, not the user's ~/.cache (code-server passes its environment on).
HF_HUB_CACHE="$W/hf-cache" e2e_serve || exit 2
SERVE_S=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')

# --- drive it -------------------------------------------------------------------------------------------------------
cp "$E2E_DIR/ui/"*.mjs "$W/"
e2e_link_pw
export W PORT CS_PID OUT
export SIMSD_E2E_SHELL_TIMINGS="{\"packageS\":$PACKAGE_S,\"installS\":$INSTALL_S,\"serveS\":$SERVE_S,\"browserStartS\":$(elapsed)}"
timeout --kill-after=10 "${SIMSD_E2E_TIMEOUT_S:-900}" node "$W/e2e.mjs"
RC=$?
[ "$RC" = 124 ] && e2e_log "the browser run timed out after ${SIMSD_E2E_TIMEOUT_S:-900} s"
