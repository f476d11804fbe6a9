#!/usr/bin/env bash
# From a fresh Debian 12 machine to a feed: installs what is missing, builds vrec, makes the
# default synthetic world (once) and serves the feed API on 127.0.0.1:8080 in the foreground.
# Ctrl-C stops the server. Environment: VREC_WORLD (default worlds/default), VREC_PORT (8080).
set -euo pipefail
cd "$(dirname "$0")/.."

WORLD="${VREC_WORLD:-worlds/default}"
PORT="${VREC_PORT:-8080}"

echo "== 1/3 dependencies"
tools/install_deps.sh

echo "== 2/3 build"
bazel build //tools:vrec 2>&1 | grep -v 'linux-sandbox' | grep -E 'ERROR|error:|Build completed|FAILED' || true
VREC=bazel-bin/tools/vrec
[ -x "$VREC" ] || { echo "quickstart: build failed" >&2; exit 1; }

echo "== 3/3 default world and server"
if [ ! -f "$WORLD/WORLD" ]; then
  "$VREC" generate --out "$WORLD"
else
  echo "reusing $WORLD (delete it to regenerate)"
fi
exec "$VREC" serve --world "$WORLD" --address 127.0.0.1 --port "$PORT"
