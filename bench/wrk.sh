#!/usr/bin/env bash
# Measures scimgate with wrk (a C load generator light enough not to starve
# the server on a shared machine) beside a bare Echo handler in the same
# run: seeds N users straight into a fresh store, serves it, runs each
# scenario of bench/wrk/scim.lua and prints req/s, the share of Echo's rate
# (plain, and driven by the same script), p50/p99 and non-2xx answers, the server's memory beyond the mmap after
# the reads, and the machine's fsync rate (writes are bounded by it). Installs wrk from the Debian package when it is missing.
# Usage: bench/wrk.sh [N users] [seconds per scenario] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; D=${2:-10}; C=${3:-64}
if ! command -v wrk >/dev/null; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk
fi
OUT=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
go build -o "$OUT/scimgate" ./cmd/scimgate
go build -o "$OUT/load" ./bench/load
PASS='Bench-pass-123!'
SCIMGATE_ADMIN_PASSWORD=$PASS "$OUT/load" -seed-db "$OUT/bench.db" -n "$N" -ids "$OUT/ids" >/dev/null
sync # the seeded file's pages written back now, not during the first scenarios (2.2 GB at 1M users)
cat "$OUT/bench.db" >/dev/null # and read into the page cache: else the reads measured fault it in from disk
# fsync rate of the store's file system: 1,000 synchronous 4 KiB writes.
SECS=$(dd if=/dev/zero of="$OUT/probe" bs=4k count=1000 oflag=dsync 2>&1 | sed -nE 's/.*copied, ([0-9.]+) s.*/\1/p')
echo "fsync probe: $(awk -v s="$SECS" 'BEGIN { printf "%d", 1000 / s }') synchronous writes/s"
SCIMGATE_DB=$OUT/bench.db SCIMGATE_ADDR=127.0.0.1:9180 "$OUT/scimgate" serve >"$OUT/server.log" 2>&1 &
SERVER=$!
"$OUT/load" -baseline-serve 127.0.0.1:9181 &
for _ in $(seq 100); do curl -fsS http://127.0.0.1:9180/healthz >/dev/null 2>&1 && curl -fsS http://127.0.0.1:9181/ >/dev/null 2>&1 && break; sleep 0.1; done
TOKEN=$(curl -fsS -u "admin:$PASS" -d name=wrk http://127.0.0.1:9180/api/user_tokens/generate | sed -E 's/.*"token":"([^"]+)".*/\1/')
# Warm-up, not reported: the server maps the file's pages as it first reads them.
wrk -t2 -c"$C" -d5s -s bench/wrk/scim.lua http://127.0.0.1:9180 -- get "$OUT/ids" "$TOKEN" >/dev/null

# measure NAME URL [SCENARIO]: one wrk run, one line of the table.
measure() {
  local res
  if [ -n "${3:-}" ]; then
    res=$(wrk -t2 -c"$C" -d"${D}s" --latency -s bench/wrk/scim.lua "$2" -- "$3" "$OUT/ids" "$TOKEN")
  else
    res=$(wrk -t2 -c"$C" -d"${D}s" --latency "$2")
  fi
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec/ {print int($2)}' <<<"$res")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$res")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$res")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$res")
  [ -n "$ECHO" ] || ECHO=$rps
  [ -n "$ECHOS" ] || [ -z "${3:-}" ] || ECHOS=$rps
  printf '%-32s %9s req/s %4s%% of Echo %4s%% of scripted Echo  p50 %-9s p99 %-9s non-2xx %s\n' \
    "$1" "$rps" "$((100 * rps / ECHO))" "$((100 * rps / ${ECHOS:-$rps}))" "$p50" "$p99" "${bad:-0}"
}
# writes NAME SCENARIO: measure, then say what bounded the writes: changes
# and commits (fsyncs) from the server's metrics, so the mean batch size
# and commits/s, the time a commit took after its changes ran (writing
# pages and fsync) and the share of the run the committer spent so, and
# the server's CPU time per change (from /proc).
metric() { curl -fsS http://127.0.0.1:9180/metrics | awk -v m="$1" '$1 == m {printf "%.6f", $2}'; }
cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; } # clock ticks
writes() {
  local ch0 co0 s0 t0 ch1 co1 s1 t1
  ch0=$(metric scimgate_store_changes_total); co0=$(metric scimgate_store_commits_total)
  s0=$(metric scimgate_store_commit_seconds_total); t0=$(cpu)
  measure "$1" http://127.0.0.1:9180 "$2"
  ch1=$(metric scimgate_store_changes_total); co1=$(metric scimgate_store_commits_total)
  s1=$(metric scimgate_store_commit_seconds_total); t1=$(cpu)
  awk -v ch="$ch0 $ch1" -v co="$co0 $co1" -v s="$s0 $s1" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v d="$D" 'BEGIN {
    split(ch, a, " "); split(co, b, " "); split(s, c, " ")
    ch = a[2] - a[1]; co = b[2] - b[1]; s = c[2] - c[1]
    printf "  %d changes in %d commits: %.1f a commit, %d commits/s, %.2f ms committing each (writing, fsync: %.0f%% of the run); server CPU %.0f us a change (%.0f%% of 2 cores)\n",
      ch, co, ch / (co ? co : 1), co / d, 1000 * s / (co ? co : 1), 100 * s / d, 1e6 * t / hz / (ch ? ch : 1), 100 * t / hz / d / 2 }'
}
ECHO= ECHOS=
echo "wrk -t2 -c$C -d${D}s, $N users, $(nproc) cores shared by server and wrk"
measure "bare Echo" http://127.0.0.1:9181/
# The same handler driven by the scenarios' Lua script (random ids, one
# request built a time), which costs wrk CPU on the shared cores: the
# baseline with the generator's cost equal to the scenarios'.
measure "bare Echo, scripted (get)" http://127.0.0.1:9181 get
measure "GET /Users/{id}" http://127.0.0.1:9180 get
measure "GET userName eq" http://127.0.0.1:9180 username
measure "GET externalId eq" http://127.0.0.1:9180 externalid
measure "GET Groups displayName eq" http://127.0.0.1:9180 group
# Memory beyond the store's mmap (anonymous pages) after the reads.
rss() { awk '/^RssAnon/ {print $2, $3}' "/proc/$SERVER/status"; }
echo "server RssAnon after the indexed reads: $(rss) (store file $(du -h "$OUT/bench.db" | cut -f1))"
# Contains searches: saturated, then as one admin's script would (4
# connections). A text of user<n> or er<n> matches 1 user in 9 of 10 draws
# and up to a tenth of the store in the others (er1...).
measure "GET userName co (n-grams)" http://127.0.0.1:9180 co
measure "GET api/users/search?q= (n-grams)" http://127.0.0.1:9180 q
C=4 measure "  the same co, 4 connections" http://127.0.0.1:9180 co
C=4 measure "  the same q, 4 connections" http://127.0.0.1:9180 q
echo "server RssAnon after the searches: $(rss)"
writes "PATCH /Users/{id} active" patch
writes "POST /Users" post
measure "bare Echo (again)" http://127.0.0.1:9181/
