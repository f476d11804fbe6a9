#!/usr/bin/env bash
# Full-disk drill (needs root, for a small tmpfs): serve a small world from a 40 MB tmpfs, post
# watches with event_ids, fill the disk, keep posting, free the disk, restart, retry what was
# refused. Checks: the server never crashes; while the disk is full every post is answered
# (503, not a hang or a 5xx other than 503) and /healthz stays 200; after the restart every
# acknowledged event is in the log exactly once and the retries of the refused ones get in.
# usage: tools/drill_full_disk.sh [VREC (default bazel-bin/tools/vrec)]
set -u
V=$(realpath "${1:-bazel-bin/tools/vrec}")
T=$(mktemp -d)
M=$T/disk
mkdir -p "$M"
mount -t tmpfs -o size=40m tmpfs "$M" || { echo "full-disk drill: needs root to mount a tmpfs"; exit 1; }
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; umount "$M" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
"$V" generate --out "$M/w" --users 300 --videos 1000 --events 20000 --days 5 --noprogress >/dev/null 2>&1 || exit 1
"$V" featurize --world "$M/w" --noprogress >/dev/null 2>&1 || exit 1
start_server() {
  "$V" serve --world "$M/w" --port 0 --warmup-requests 0 --impression-log '' >>"$T/serve" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/serve" | tail -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "server did not start"; tail -5 "$T/serve"; exit 1; }
}
# post ID: prints the HTTP status; the event is acknowledged on 200.
post() {
  curl -s -o /dev/null -m 5 -w '%{http_code}' -X POST "http://127.0.0.1:$port/v1/events" \
    -d "{\"user_id\": $(($1 % 300)), \"video_id\": $(($1 % 1000)), \"type\": \"watch\", \"watch_time_ms\": $1, \"event_id\": \"f$1\"}"
}
: >"$T/acked"; : >"$T/refused"; : >"$T/serve"
start_server
for id in $(seq 1000001 1000200); do [ "$(post "$id")" = 200 ] && echo "$id" >>"$T/acked" || echo "$id" >>"$T/refused"; done
before=$(wc -l <"$T/acked")
dd if=/dev/zero of="$M/filler" bs=64k >/dev/null 2>&1  # until the disk is full
codes=""
for id in $(seq 1000201 1000600); do
  code=$(post "$id")
  codes="$codes $code"
  if [ "$code" = 200 ]; then echo "$id" >>"$T/acked"; else echo "$id" >>"$T/refused"; fi
done
health=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$port/healthz")
ready=$(curl -s -m 5 "http://127.0.0.1:$port/readyz")
alive=$(kill -0 "$pid" 2>/dev/null && echo yes || echo no)
full_codes=$(echo $codes | tr ' ' '\n' | sort | uniq -c | tr '\n' ' ')
rm -f "$M/filler"
kill "$pid"; wait "$pid" 2>/dev/null
: >"$T/serve"  # the restarted server's log only
start_server
grep -E '^loaded' "$T/serve" | cut -c1-200
retried_ok=0
for id in $(cat "$T/refused"); do
  for _ in 1 2 3; do
    if [ "$(post "$id")" = 200 ]; then retried_ok=$((retried_ok + 1)); echo "$id" >>"$T/acked"; break; fi
    sleep 0.2
  done
done
kill "$pid"; wait "$pid" 2>/dev/null; pid=""
"$V" events --world "$M/w" --dump --type watch --limit 0 --noprogress 2>/dev/null | awk -F'\t' 'NR > 1 { print $5 }' | sort >"$T/logged"
sort -u "$T/acked" >"$T/acked.sorted"
lost=$(comm -23 "$T/acked.sorted" "$T/logged" | wc -l)
dups=$(uniq -d "$T/logged" | comm -12 - "$T/acked.sorted" | wc -l)
echo "full-disk drill: $before acknowledged before the disk filled; while full: status counts [$full_codes], /healthz $health, server alive: $alive, /readyz: $ready"
echo "full-disk drill: after freeing the disk and a restart, $retried_ok of $(wc -l <"$T/refused") refused events retried in; $(wc -l <"$T/acked.sorted") acknowledged in all, $lost lost, $dups logged more than once"
[ "$alive" = yes ] && [ "$health" = 200 ] && [ "$lost" -eq 0 ] && [ "$dups" -eq 0 ] && ! echo "$codes" | grep -qE ' (000|500)'
