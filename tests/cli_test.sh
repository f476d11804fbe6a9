#!/usr/bin/env bash
# The `vrec` command line as a user runs it: real files, real process, real HTTP.
set -uo pipefail
VREC="$1"
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0
check() {  # check "description" command...
  local what="$1"
  shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}

out=$("$VREC" --help); check "top-level help lists commands" grep -q "replay" <<<"$out"
out=$("$VREC" generate --help); check "generate --help lists flags" grep -q -- "--users=VALUE" <<<"$out"
"$VREC" generate --out "$TMP/w" --user 5 >"$TMP/err" 2>&1; code=$?
check "unknown flag exits 2" test "$code" -eq 2
check "unknown flag is named" grep -q "unknown flag --user" "$TMP/err"
"$VREC" frobnicate >/dev/null 2>&1; check "unknown command exits 2" test $? -eq 2

"$VREC" generate --out "$TMP/w" --users 400 --videos 1500 --events 60000 --days 8 --noprogress >"$TMP/gen" 2>&1
check "generate succeeds" grep -q "generated" "$TMP/gen"
out=$("$VREC" events --world "$TMP/w" --noprogress 2>/dev/null)
check "events summary counts events" grep -q "events read" <<<"$out"
check "events summary has a click-through rate" grep -q "click-through rate" <<<"$out"
out=$("$VREC" events --world "$TMP/w" --dump --type like --limit 3)
check "dump prints header and 3 likes" test "$(grep -c $'\tlike\t' <<<"$out")" -eq 3
"$VREC" events --world "$TMP/nowhere" >"$TMP/err" 2>&1; code=$?
check "missing world is exit 1" test "$code" -eq 1
check "missing world is explained" grep -q "not a world directory" "$TMP/err"

"$VREC" replay --world "$TMP/w" --k 10 --json "$TMP/replay.json" --noprogress >"$TMP/replay" 2>&1
check "replay prints the table" grep -q "NDCG@10" "$TMP/replay"
check "replay includes the oracle" grep -q "^oracle" "$TMP/replay"
check "replay writes JSON" grep -q '"name":"recent-popular"' "$TMP/replay.json"
"$VREC" replay --world "$TMP/w" --protocol sideways >"$TMP/err" 2>&1; code=$?
check "bad protocol exits 2" test "$code" -eq 2
"$VREC" replay --world "$TMP/w" --systems two-tower >"$TMP/err" 2>&1; code=$?
check "two-tower without --models exits 2" test "$code" -eq 2
check "two-tower without --models is explained" grep -q "need --models" "$TMP/err"

printf 'user_id,video_id,timestamp\n1,2,1700000000\n1,3,oops\n' >"$TMP/log.csv"
"$VREC" import --format csv --input "$TMP/log.csv" --out "$TMP/csvw" >"$TMP/err" 2>&1; code=$?
check "bad csv row exits 2" test "$code" -eq 2
check "bad csv row names file and line" grep -q "log.csv:3: bad timestamp" "$TMP/err"
"$VREC" import --format csv --input "$TMP/log.csv" --out "$TMP/csvw" --skip-bad >"$TMP/imp" 2>&1
check "skip-bad imports the rest" grep -q "1 bad rows skipped" "$TMP/imp"

"$VREC" serve --world "$TMP/w" --port 0 >"$TMP/err" 2>&1; code=$?
check "serve without a feature store exits 1" test "$code" -eq 1
check "serve without a feature store says how to build one" grep -q "vrec featurize" "$TMP/err"
"$VREC" featurize --world "$TMP/w" --noprogress >"$TMP/feat" 2>&1
check "featurize builds the store" grep -q "featurized" "$TMP/feat"

# The server as a process: port 0, read the port it prints.
start_server() {
  "$VREC" serve --world "$TMP/w" --port 0 >"$TMP/serve" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$TMP/serve")
    [ -n "$port" ] && break
    sleep 0.1
  done
}
http() {  # http METHOD TARGET [BODY]: prints the raw response
  local body="${3:-}"
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$1" "$2" "${#body}" "$body" >&3
  cat <&3
  exec 3>&-
}
start_server
check "server prints its port" test -n "$port"
if [ -n "$port" ]; then
  reply=$(http GET '/v1/feed?user_id=1&count=10')
  check "feed over HTTP is 200" grep -q "HTTP/1.1 200" <<<"$reply"
  check "feed has 10 items" test "$(grep -o '"video_id"' <<<"$reply" | wc -l)" -eq 10
  top=$(grep -o '"video_id":[0-9]*' <<<"$reply" | head -1 | cut -d: -f2)
  reply=$(http POST /v1/events "{\"user_id\": 1, \"video_id\": $top, \"type\": \"watch\", \"watch_time_ms\": 4000}")
  check "posted watch is acknowledged" grep -q '"accepted":1' <<<"$reply"
  # Kill without warning, then restart: the acknowledged watch must still be there.
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  start_server
  check "server restarts after kill -9" test -n "$port"
  reply=$(http GET '/v1/feed?user_id=1&count=10')
  check "watched video stays out of the feed after the restart" test "$(grep -c "\"video_id\":$top," <<<"$reply")" -eq 0
  out=$("$VREC" events --world "$TMP/w" --dump --user 1 --video "$top" --type watch --limit 0)
  check "the watch is in the event log" grep -q $'\t4000\t' <<<"$out"
  # The load generator against the running server: client latencies and the server's own.
  out=$("$VREC" bench feed --world "$TMP/w" --port "$port" --rate 40 --seconds 1 --connections 2 2>&1)
  check "bench feed gets 40 answers without errors" grep -q "40 responses in .* 0 transport errors, 0 non-200" <<<"$out"
  check "bench feed reports the server-side p99" grep -q "server-side handler time .* p99 <= [0-9.]* ms" <<<"$out"
  "$VREC" bench feed --world "$TMP/w" --port 1 --seconds 1 >"$TMP/err" 2>&1
  check "bench feed without a server says how to start one" grep -q "start \`vrec serve" "$TMP/err"
fi
kill -INT "$pid"
wait "$pid"
check "server exits 0 on SIGINT" test $? -eq 0

echo "$failures failures"
exit $((failures > 0))
