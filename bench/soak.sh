#!/usr/bin/env bash
# Runs scimgate on a fresh store and soaks it with mixed SCIM traffic from
# loopback clients for the given duration (default 10m); fails on any 5xx,
# network error, or a mismatch between acknowledged creates and what the
# store and the audit trail count. Usage: bench/soak.sh [duration] [clients]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10m}; C=${2:-16}
OUT=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
go build -o "$OUT/scimgate" ./cmd/scimgate
go build -o "$OUT/load" ./bench/load
PASS='Soak-pass-123!'
SCIMGATE_ADMIN_PASSWORD=$PASS SCIMGATE_DB=$OUT/soak.db SCIMGATE_ADDR=127.0.0.1:9190 "$OUT/scimgate" serve >"$OUT/server.log" 2>&1 &
for _ in $(seq 100); do curl -fsS http://127.0.0.1:9190/healthz >/dev/null 2>&1 && break; sleep 0.1; done
TOKEN=$(curl -fsS -u "admin:$PASS" -d name=soak http://127.0.0.1:9190/api/user_tokens/generate | sed -E 's/.*"token":"([^"]+)".*/\1/')
"$OUT/load" -server http://127.0.0.1:9190 -token "$TOKEN" -soak "$DUR" -c "$C"
