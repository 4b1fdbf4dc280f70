#!/usr/bin/env bash
# Builds scimgate and the load tool, starts scimgate on a fresh store and a
# bare Echo baseline on loopback, seeds N users through the API and prints
# rps and p50/p99 for each scenario, then RSS and cold start of the server.
# Usage: bench/run.sh [N users] [seconds per scenario] [clients]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; D=${2:-10}; C=${3:-64}
OUT=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
go build -o "$OUT/scimgate" ./cmd/scimgate
go build -o "$OUT/load" ./bench/load
PASS='Bench-pass-123!'
SCIMGATE_ADMIN_PASSWORD=$PASS SCIMGATE_DB=$OUT/bench.db SCIMGATE_ADDR=127.0.0.1:9180 "$OUT/scimgate" serve >"$OUT/server.log" 2>&1 &
SERVER=$!
"$OUT/load" -baseline-serve 127.0.0.1:9181 &
for _ in $(seq 100); do curl -fsS http://127.0.0.1:9180/healthz >/dev/null 2>&1 && break; sleep 0.1; done
TOKEN=$(curl -fsS -u "admin:$PASS" -d name=bench http://127.0.0.1:9180/api/user_tokens/generate | sed -E 's/.*"token":"([^"]+)".*/\1/')
"$OUT/load" -server http://127.0.0.1:9180 -baseline http://127.0.0.1:9181 -token "$TOKEN" -n "$N" -d "${D}s" -c "$C"
echo
grep -E 'VmRSS|RssAnon|RssFile' /proc/$SERVER/status | sed 's/^/server /'
echo "store file: $(du -h "$OUT/bench.db" | cut -f1)"
kill $SERVER; wait $SERVER 2>/dev/null || true
START=$(date +%s.%N)
SCIMGATE_DB=$OUT/bench.db SCIMGATE_ADDR=127.0.0.1:9180 "$OUT/scimgate" serve >>"$OUT/server.log" 2>&1 &
until curl -fsS http://127.0.0.1:9180/healthz >/dev/null 2>&1; do sleep 0.005; done
echo "cold start with $N users: $(echo "$(date +%s.%N) - $START" | bc) s to the first answer"
