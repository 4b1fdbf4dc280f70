#!/usr/bin/env bash
# Shows that indexed reads do not slow down as the store grows, and measures
# cold start and memory: for each size, users are written straight into a
# store file, the server is started on it, and the read and write scenarios
# run against it. Usage: bench/scale.sh [seconds per scenario] [sizes...]
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-5}; shift || true
SIZES=${*:-1000 100000 1000000}
OUT=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
go build -o "$OUT/scimgate" ./cmd/scimgate
go build -o "$OUT/load" ./bench/load
PASS='Bench-pass-123!'
"$OUT/load" -baseline-serve 127.0.0.1:9181 &
for N in $SIZES; do
  DB=$OUT/scale-$N.db
  SCIMGATE_ADMIN_PASSWORD=$PASS "$OUT/load" -seed-db "$DB" -n "$N"
  sync; cat "$DB" >/dev/null # written back and in the page cache before it is measured (see bench/wrk.sh)
  START=$(date +%s.%N)
  SCIMGATE_ADMIN_PASSWORD=$PASS SCIMGATE_DB=$DB SCIMGATE_ADDR=127.0.0.1:9180 "$OUT/scimgate" serve >"$OUT/server.log" 2>&1 &
  SERVER=$!
  until curl -fsS http://127.0.0.1:9180/healthz >/dev/null 2>&1; do sleep 0.005; done
  echo "== $N users: cold start $(echo "$(date +%s.%N) - $START" | bc) s, store $(du -h "$DB" | cut -f1)"
  TOKEN=$(curl -fsS -u "admin:$PASS" -d name=bench http://127.0.0.1:9180/api/user_tokens/generate | sed -E 's/.*"token":"([^"]+)".*/\1/')
  "$OUT/load" -server http://127.0.0.1:9180 -baseline http://127.0.0.1:9181 -token "$TOKEN" -n "$N" -d "${D}s" -skip-seed -scan=false | tail -n 9
  grep -E 'VmRSS|RssAnon|RssFile' /proc/$SERVER/status | tr -s ' \t' ' ' | paste -sd ' '
  kill $SERVER; wait $SERVER 2>/dev/null || true
  rm -f "$DB"
done
