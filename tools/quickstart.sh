#!/usr/bin/env bash
# From a fresh Debian 12 machine to a feed: installs what is missing, builds vrec, makes the
# default synthetic world (once), builds its feature store (once), trains the two-tower model
# and builds its HNSW index (once), trains the ranker on the logged impressions (once), and
# serves the full feed (retrieval, ranker, re-ranking) on 127.0.0.1:8080 in the foreground.
# Ctrl-C stops the server. Environment: VREC_WORLD (default worlds/default), VREC_PORT (8080).
set -euo pipefail
cd "$(dirname "$0")/.."

WORLD="${VREC_WORLD:-worlds/default}"
MODELS="$WORLD/models"
PORT="${VREC_PORT:-8080}"

echo "== 1/6 dependencies"
tools/install_deps.sh

echo "== 2/6 build"
bazel build //tools:vrec 2>&1 | grep -v 'linux-sandbox' | grep -E 'ERROR|error:|Build completed|FAILED' || true
VREC=bazel-bin/tools/vrec
[ -x "$VREC" ] || { echo "quickstart: build failed" >&2; exit 1; }

echo "== 3/6 default world and its feature store"
if [ ! -f "$WORLD/WORLD" ]; then
  "$VREC" generate --out "$WORLD"
  rm -rf "$WORLD/features"
else
  echo "reusing $WORLD (delete it to regenerate)"
fi
# A store from an older build has another schema (kFeatureSchemaVersion in
# featurestore/schema.h), which the server refuses: rebuild it then.
FEATURE_SCHEMA=2
if [ ! -f "$WORLD/features/CURRENT" ] || [ "$(cat "$WORLD/features/SCHEMA" 2>/dev/null)" != "$FEATURE_SCHEMA" ]; then
  "$VREC" featurize --world "$WORLD"
else
  echo "reusing $WORLD/features (delete it to rebuild)"
fi

# A bundle from an older build may read other feature transforms (kTransformVersion in
# featurestore/transforms.h) and the server refuses it: train new models then.
TRANSFORMS=3  # featurestore/transforms.h kTransformVersion
current() {  # the complete bundles of this build's transforms that also match "$1"
  local complete
  complete=$(grep -l '^complete=1$' "$MODELS"/*/MANIFEST 2>/dev/null || true)
  [ -n "$complete" ] || return 0
  complete=$(grep -l "^features.transform_version=$TRANSFORMS\$" $complete 2>/dev/null || true)
  [ -n "$complete" ] || return 0
  grep -l "$1" $complete 2>/dev/null || true
}

echo "== 4/6 two-tower retrieval model, its index and the collaborative tables"
# Bundles from before the collaborative sources (collab.bin) are retrained too.
if [ -z "$(current '^collab.ease_videos=')" ]; then
  "$VREC" train-retrieval --world "$WORLD" --models "$MODELS" --epochs 3 --until-fraction 1
  "$VREC" build-index --world "$WORLD" --models "$MODELS"
else
  echo "reusing the complete bundle in $MODELS (delete it to retrain)"
fi

echo "== 5/6 ranker (multi-task, on logged impressions) and the learned fusion"
# A ranker bundle from an older build takes fewer cross features (kCrossFeatures in
# ranking/cross_features.h) and the server refuses it, and one without collab.bin or a fusion
# verdict and a rule choice (rules.*) predates them: train a new one then.
ranker_ok=$(current '^ranker.cross_features=13$')
[ -n "$ranker_ok" ] && ranker_ok=$(grep -l '^rules.diversity=' $ranker_ok | xargs -r grep -l '^collab.ease_videos=' || true)
if [ -z "$ranker_ok" ]; then
  "$VREC" train-ranker --world "$WORLD" --models "$MODELS" --max-examples 1000000
else
  echo "reusing the ranker bundle in $MODELS (delete it to retrain)"
fi

echo "== 6/6 server"
exec "$VREC" serve --world "$WORLD" --models "$MODELS" --address 127.0.0.1 --port "$PORT"
