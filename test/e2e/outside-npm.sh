# outside_npm CMD [ARGS...]: runs CMD as it would run from a plain shell, even when this script itself runs inside
# `npm test`. The outer npm exports its whole configuration (npm_config_user_agent with its Node version,
# npm_config_local_prefix pointing at this repository, npm_lifecycle_*, npm_package_*, npm_node_execpath, NODE,
# INIT_CWD) and puts this repository's node_modules/.bin and its own node-gyp-bin first on PATH. A nested
# `npm install` reads all of that as its own: code-server's postinstall, for one, takes the Node major from
# npm_config_user_agent and refuses Node 24 when the outer npm ran on Node 20. A user's own NPM_CONFIG_* (upper case,
# e.g. a registry mirror) and ~/.npmrc still apply, as they would from a shell. Source it; it defines functions only.

outside_npm_path() {  # PATH without the entries npm prepends for a lifecycle script
  local IFS=: dir out=""
  for dir in $PATH; do
    case "$dir" in
      */node_modules/.bin | */node_modules/.bin/ | */node-gyp-bin | */node-gyp-bin/) continue ;;
    esac
    out="${out:+$out:}$dir"
  done
  printf '%s' "$out"
}

outside_npm_env() {  # sets OUTSIDE_NPM_ENV to the env(1) arguments that give a plain shell's environment
  local name
  OUTSIDE_NPM_ENV=()
  while IFS= read -r name; do
    case "$name" in
      npm_* | NODE | INIT_CWD) OUTSIDE_NPM_ENV+=(-u "$name") ;;
    esac
  done < <(compgen -e)
  OUTSIDE_NPM_ENV+=(PATH="$(outside_npm_path)")
}

outside_npm() {
  outside_npm_env
  env "${OUTSIDE_NPM_ENV[@]}" "$@"
}
