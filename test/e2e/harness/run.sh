#!/usr/bin/env bash
# Approach B (testing.md §6.4): mocha inside the real extension host of code-server.
# Builds the extension (npm run build in $SIMSD_EXT), compiles test/e2e/harness/suite/*.ts with esbuild (no bundling)
# to out-test/suite in this repository, serves code-server with enable-smoke-test-driver and opens the workbench in
# headless Chromium with the extensionDevelopmentPath/extensionTestsPath payload.
# Last stdout line: `harness: N passed, N failed`. Exit 0 only if every test passed.
#
# env: TOOLS                      toolchain folder (test/e2e/setup.sh), default $HOME/.cache/simsd-e2e-tools
#      SIMSD_EXT                  extension checkout to test (default: this repository)
#      SIMSD_SKIP_BUILD=1         do not run `npm run build` in $SIMSD_EXT
#      SIMSD_E2E_OUT              output folder (summary.json, logs), default $W/out
#      SIMSD_E2E_READY_TIMEOUT_S  how long api.ready may take (default 180)
#      SIMSD_E2E_GHOST_TIMEOUT_S  how long the first inline completion may take (default 60)
#      SIMSD_HARNESS_TIMEOUT_S    whole mocha run in the workbench (default 600)
#      SIMSD_E2E_KEEP=1           keep $W even when everything passed
#      E2E_FORCE_FAIL=1           negative control: one test fails, the script must exit 1
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

T_START=$(date +%s.%N)
elapsed() { awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
RC=2
SUMMARY_LINE="harness: 0 passed, 1 failed"

finish() {
  [ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null
  local teardown_ok=1
  e2e_teardown || teardown_ok=0
  if [ -n "${W:-}" ]; then
    if [ -f "${E2E_TEST_SUMMARY:-/nonexistent}" ]; then
      local p f
      p=$(node -p "require('$E2E_TEST_SUMMARY').passes")
      f=$(node -p "require('$E2E_TEST_SUMMARY').failures")
      SUMMARY_LINE="harness: $p passed, $f failed"
      [ "$RC" = 0 ] && [ "$f" != 0 ] && RC=1
    fi
    [ "$teardown_ok" = 1 ] || RC=1
    e2e_keep_or_clean "$RC" "$OUT"
  fi
  e2e_log "harness total $(elapsed) s"
  echo "$SUMMARY_LINE"
  exit "$RC"
}
trap finish EXIT
trap 'exit 130' INT TERM

e2e_check_tools || exit 2
[ -f "$SIMSD_EXT/package.json" ] || { e2e_log "no package.json in SIMSD_EXT=$SIMSD_EXT"; exit 2; }

if [ "${SIMSD_SKIP_BUILD:-0}" != 1 ]; then
  e2e_log "npm run build in $SIMSD_EXT"
  (cd "$SIMSD_EXT" && npm run build) >&2 || { e2e_log "build failed"; exit 2; }
fi
MAIN="$(node -p "require('$SIMSD_EXT/package.json').main || ''")"
[ -n "$MAIN" ] && { [ -f "$SIMSD_EXT/$MAIN" ] || [ -f "$SIMSD_EXT/$MAIN.js" ]; } || { e2e_log "extension entry '$MAIN' missing in $SIMSD_EXT"; exit 2; }

e2e_log "compile the suite (esbuild, no bundling) to $REPO/out-test/suite"
rm -rf "$REPO/out-test/suite"
(cd "$REPO" && npx --no-install esbuild test/e2e/harness/suite/*.ts --outdir=out-test/suite --platform=node \
  --format=cjs --target=node20 --sourcemap --log-level=warning) >&2 || { e2e_log "esbuild failed"; exit 2; }
SUITE="$REPO/out-test/suite/index.js"

e2e_workdir
OUT="${SIMSD_E2E_OUT:-$W/out}"
mkdir -p "$OUT"
export E2E_TEST_SUMMARY="$OUT/summary.json"   # reaches the extension host through code-server's environment
rm -f "$E2E_TEST_SUMMARY"
e2e_log "W=$W OUT=$OUT SIMSD_EXT=$SIMSD_EXT"

# A `simsd serve` on loopback with the embedded pair, for remote.test.ts (simsd.backend: remote).
node "$SIMSD_EXT/dist/cli.js" serve --target "$SIMSD_EXT/models/target" --draft "$SIMSD_EXT/models/draft" --port 0 --json \
  --cache-dir "$W/converted" > "$W/serve.out" 2> "$W/serve.log" &
SERVE_PID=$!
for i in $(seq 1 300); do grep -q '"listening"' "$W/serve.out" 2>/dev/null && break; kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
SIMSD_E2E_REMOTE_URL="$(node -e "const l=require('fs').readFileSync(process.argv[1],'utf8').split('\n')[0];console.log(JSON.parse(l).listening.url)" "$W/serve.out" 2>/dev/null)" \
  || { e2e_log "simsd serve did not start: $(tail -3 "$W/serve.log")"; exit 2; }
export SIMSD_E2E_REMOTE_URL
e2e_log "simsd serve at $SIMSD_E2E_REMOTE_URL (pid $SERVE_PID)"

e2e_serve --vscode-option enable-smoke-test-driver || exit 2

cp "$E2E_DIR/harness/driver.mjs" "$W/"
e2e_link_pw
PORT="$PORT" W="$W" SIMSD_EXT="$SIMSD_EXT" SUITE="$SUITE" OUT="$OUT" node "$W/driver.mjs"
RC=$?
e2e_log "mocha run finished (rc $RC) at $(elapsed) s"
