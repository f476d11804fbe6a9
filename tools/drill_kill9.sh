#!/usr/bin/env bash
# Durability drill: TRIALS times, serve a small world, post watches from 4 concurrent clients,
# kill -9 the server at a random moment, and restart it (recovery runs each time). Every event
# carries an event_id; a client whose request got no answer retries it (same id) in the next
# trial, as a client retrying after a timeout would, and a last server run takes the retries
# still owed. At the end every event the server acknowledged must be in the event log exactly
# once: none lost, none duplicated by a retry.
# usage: tools/drill_kill9.sh [VREC (default bazel-bin/tools/vrec)] [TRIALS (default 100)]
set -u
V=${1:-bazel-bin/tools/vrec}
N=${2:-100}
T=$(mktemp -d)
"$V" generate --out "$T/w" --users 300 --videos 1000 --events 20000 --days 5 --noprogress >/dev/null 2>&1 || exit 1
"$V" featurize --world "$T/w" --noprogress >/dev/null 2>&1 || exit 1
start_server() {
  "$V" serve --world "$T/w" --port 0 --warmup-requests 0 --impression-log '' >"$T/serve" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/serve")
    [ -n "$port" ] && break
    sleep 0.05
  done
  if [ -z "$port" ]; then echo "server did not start"; cat "$T/serve"; exit 1; fi
}
# Client P posts its owed retries, then NEW fresh events; what gets no answer is owed again.
client() {
  local p=$1 new=$2 base=$3
  local ids=() i
  [ -f "$T/owed.$p" ] && mapfile -t ids <"$T/owed.$p"
  for i in $(seq 1 "$new"); do ids+=($((base + p * 10000 + i))); done
  : >"$T/owed.$p.next"
  local k=0
  for id in "${ids[@]}"; do
    k=$((k + 1))
    reply=$(curl -s -m 2 -X POST "http://127.0.0.1:$port/v1/events" \
      -d "{\"user_id\": $((id % 300)), \"video_id\": $((id % 1000)), \"type\": \"watch\", \"watch_time_ms\": $id, \"event_id\": \"e$id\"}")
    case "$reply" in
      *'"accepted":1'*) echo "$id" >>"$T/acked.$p" ;;
      *) echo "$id" >>"$T/owed.$p.next"; break ;;
    esac
  done
  # Owed retries not reached this time stay owed; fresh events not reached were never sent.
  local owed_before=0
  [ -f "$T/owed.$p" ] && owed_before=$(wc -l <"$T/owed.$p")
  if [ "$k" -lt "$owed_before" ]; then printf '%s\n' "${ids[@]:$k:$((owed_before - k))}" >>"$T/owed.$p.next"; fi
  mv "$T/owed.$p.next" "$T/owed.$p"
}
for trial in $(seq 1 "$N"); do
  start_server
  for p in 1 2 3 4; do client "$p" 400 $((trial * 100000)) & done
  sleep "0.$((RANDOM % 9 + 1))"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  wait
done
start_server
clients=()
for p in 1 2 3 4; do client "$p" 0 0 & clients+=($!); done
wait "${clients[@]}"
owed=$(cat "$T"/owed.* | wc -l)
kill "$pid"
wait "$pid" 2>/dev/null
cat "$T"/acked.* >"$T/acked"
"$V" events --world "$T/w" --dump --type watch --limit 0 --noprogress 2>/dev/null |
  awk -F'\t' 'NR > 1 { print $5 }' | sort >"$T/logged"
sort "$T/acked" >"$T/acked.sorted"
acked=$(wc -l <"$T/acked.sorted")
lost=$(comm -23 "$T/acked.sorted" <(sort -u "$T/logged") | wc -l)
dups=$(sort "$T/logged" | uniq -d | comm -12 - "$T/acked.sorted" | wc -l)
logged=$(wc -l <"$T/logged")
echo "kill -9 drill: $N trials, $acked acknowledged events ($logged watches logged), $lost lost, $dups logged more than once, $owed retries still unanswered"
[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
[ "$lost" -eq 0 ] && [ "$dups" -eq 0 ] && [ "$owed" -eq 0 ]
