#!/usr/bin/env bash
# Durability drill: TRIALS times, serve a small world, post watches from 4 concurrent clients,
# kill -9 the server at a random moment, and restart it (recovery runs each time). At the end,
# every event the server acknowledged must be in the event log, exactly once.
# usage: tools/drill_kill9.sh [VREC (default bazel-bin/tools/vrec)] [TRIALS (default 100)]
set -u
V=${1:-bazel-bin/tools/vrec}
N=${2:-100}
T=$(mktemp -d)
"$V" generate --out "$T/w" --users 300 --videos 1000 --events 20000 --days 5 --noprogress >/dev/null 2>&1 || exit 1
"$V" featurize --world "$T/w" --noprogress >/dev/null 2>&1 || exit 1
: >"$T/acked"
for trial in $(seq 1 "$N"); do
  "$V" serve --world "$T/w" --port 0 --warmup-requests 0 --impression-log '' >"$T/serve" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/serve")
    [ -n "$port" ] && break
    sleep 0.05
  done
  if [ -z "$port" ]; then echo "trial $trial: server did not start"; cat "$T/serve"; exit 1; fi
  for p in 1 2 3 4; do
    (
      for i in $(seq 1 400); do
        id=$((trial * 100000 + p * 10000 + i))
        reply=$(curl -s -m 2 -X POST "http://127.0.0.1:$port/v1/events" \
          -d "{\"user_id\": $((i % 300)), \"video_id\": $((i % 1000)), \"type\": \"watch\", \"watch_time_ms\": $id}") || break
        case "$reply" in *'"accepted":1'*) echo "$id" >>"$T/acked.$p" ;; esac
      done
    ) &
  done
  sleep "0.$((RANDOM % 9 + 1))"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  wait
  cat "$T"/acked.* >>"$T/acked" 2>/dev/null
  rm -f "$T"/acked.*
done
"$V" events --world "$T/w" --dump --type watch --limit 0 --noprogress 2>/dev/null |
  awk -F'\t' 'NR > 1 { print $5 }' | sort >"$T/logged"
sort "$T/acked" >"$T/acked.sorted"
acked=$(wc -l <"$T/acked.sorted")
lost=$(comm -23 "$T/acked.sorted" <(sort -u "$T/logged") | wc -l)
dups=$(sort "$T/logged" | uniq -d | comm -12 - "$T/acked.sorted" | wc -l)
echo "kill -9 drill: $N trials, $acked acknowledged events, $lost lost, $dups logged more than once"
rm -rf "$T"
[ "$lost" -eq 0 ]
