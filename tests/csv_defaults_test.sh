#!/usr/bin/env bash
# A plain three-column engagement CSV through every job with its defaults, as a new user runs
# them: import -> featurize -> train-retrieval -> build-index -> train-ranker -> serve, no tuning
# flag. The log has four taste groups of videos; a user's served feed must come mostly from the
# user's group (popularity alone would mix the groups).
set -uo pipefail
VREC="$1"
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0
check() {  # check "description" command...
  local what="$1"
  shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}

# 400 users in 4 groups of 150 videos each; each user engages with 24 videos of the group, one a
# day, walking the group's videos in order from a user-specific start.
awk 'BEGIN {
  print "user_id,video_id,timestamp";
  for (u = 0; u < 400; u++) {
    g = u % 4; start = (u * 37) % 150;
    for (k = 0; k < 24; k++) print u "," (g * 150 + (start + k) % 150) "," (1700000000 + k * 86400 + u);
  }
}' >"$TMP/log.csv"

run() {  # run NAME command...: the job must exit 0
  local name="$1"
  shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  local code=$?
  check "$name exits 0" test "$code" -eq 0
  [ "$code" -eq 0 ] || sed -n '1,20p' "$TMP/$name.err"
}
W="$TMP/w"
M="$TMP/models"
run import "$VREC" import --format csv --input "$TMP/log.csv" --out "$W"
run featurize "$VREC" featurize --world "$W"
run train-retrieval "$VREC" train-retrieval --world "$W" --models "$M"
run build-index "$VREC" build-index --world "$W" --models "$M"
run train-ranker "$VREC" train-ranker --world "$W" --models "$M"
check "the bundle has collaborative tables" grep -q '^collab.ease_videos=' "$M/2/MANIFEST"
check "the bundle records the fusion's verdict" grep -q '^fusion.used=' "$M/2/MANIFEST"
# Damaged copies of the bundle handed to a serving server as new versions (issue 14): every feed
# answers 200, from the good version when the damage is refused.
run drill "$VREC" drill bundle --models "$M" --world "$W" --trials 3 --scratch "$TMP/drill"
check "damaged bundles never fail a served feed" grep -q "every feed answered 200" "$TMP/drill.out"
rm -rf "$TMP/drill"

start_server() {  # start_server LOG serve-flags...: sets pid and port (empty if it never listened)
  local log="$1"
  shift
  "$VREC" serve --world "$W" --port 0 "$@" >"$log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 300); do
    port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && break
    sleep 0.1
  done
}
start_server "$TMP/serve" --models "$M"
check "server prints its port" test -n "$port"
if [ -n "$port" ]; then
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /v1/feed?user_id=5&count=10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  reply=$(cat <&3)
  exec 3>&-
  check "feed over HTTP is 200" grep -q "HTTP/1.1 200" <<<"$reply"
  check "feed is from the trained bundle" grep -q '"model_version":"2"' <<<"$reply"
  ids=$(grep -o '"video_id":[0-9]*' <<<"$reply" | cut -d: -f2)
  check "feed has 10 items" test "$(wc -l <<<"$ids")" -eq 10
  # User 5 is in group 1: videos 150-299.
  own=$(awk '$1 >= 150 && $1 < 300' <<<"$ids" | wc -l)
  echo "user 5's feed: $own of 10 videos from the user's group"
  check "feed comes mostly from the user's taste group" test "$own" -ge 7
  kill -INT "$pid"
  wait "$pid"
fi

# The served feed scored by the replay over HTTP: the store as of the split, served read-only.
T=2023-12-06
run featurize-past "$VREC" featurize --world "$W" --store "$TMP/past" --as-of "$T"
start_server "$TMP/serve2" --store "$TMP/past" --models "$M" --read-only --exact-search --explore-rate 0 \
  --impression-log ''
check "read-only server prints its port" test -n "$port"
if [ -n "$port" ]; then
  run replay-server "$VREC" replay --world "$W" --models "$M" --split-time "$T" \
    --systems most-popular,full-pipeline --server "127.0.0.1:$port"
  served=$(awk '$1 == "served-feed" {print $2; exit}' "$TMP/replay-server.out")
  offline=$(awk '$1 == "full-pipeline" {print $2; exit}' "$TMP/replay-server.out")
  popular=$(awk '$1 == "most-popular" {print $2; exit}' "$TMP/replay-server.out")
  echo "NDCG@10: served-feed $served, full-pipeline $offline, most-popular $popular"
  check "the replay scores the served feed" test -n "$served"
  check "the served feed beats popularity" awk -v a="$served" -v b="$popular" 'BEGIN { exit !(a > b) }'
  check "the served feed matches the replay's pipeline" awk -v a="$served" -v b="$offline" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.05) }'
  kill -INT "$pid"
  wait "$pid"
fi
echo "$failures failures"
exit $((failures > 0))
