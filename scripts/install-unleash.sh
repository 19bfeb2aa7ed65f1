#!/usr/bin/env bash
# Unleash (the feature-flag server) for the flag backend's tests: the unleash-server npm
# package, run with the machine's Node. Idempotent, quiet, and fast when already there.
# Where: $COCKPIT_UNLEASH_DIR (default /opt/unleash). Version: 7.5.1, the last release whose
# engines accept Node 20 (7.6 and 8.x want Node >= 22).
set -euo pipefail
DIR="${COCKPIT_UNLEASH_DIR:-/opt/unleash}"
VERSION="${COCKPIT_UNLEASH_VERSION:-7.5.1}"
ENTRY="$DIR/node_modules/unleash-server/dist/server.js"
have_version() {
  [ -f "$ENTRY" ] && node -e "process.exit(require('$DIR/node_modules/unleash-server/package.json').version === '$VERSION' ? 0 : 1)" 2>/dev/null
}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-unleash.sh: node and npm are needed (Node >= 20)" >&2
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "install-unleash.sh: Node $(node --version) is too old for unleash-server $VERSION (needs >= 20)" >&2
  exit 1
fi
have_version && exit 0
mkdir -p "$DIR"
[ -f "$DIR/package.json" ] || echo '{"name":"cockpit-unleash","private":true}' > "$DIR/package.json"
(cd "$DIR" && npm install --no-audit --no-fund --loglevel=error --save-exact "unleash-server@$VERSION" >/dev/null)
have_version || { echo "install-unleash.sh: unleash-server $VERSION did not install in $DIR" >&2; exit 1; }
