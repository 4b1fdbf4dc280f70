#!/usr/bin/env bash
# Measures the PostgreSQL backend with wrk beside the bbolt backend in the
# same run: seeds N users into a bbolt file, copies it into a throwaway
# PostgreSQL cluster (initdb in a temporary directory, a loopback port,
# fsync on) with `scimgate migrate`, then serves both and measures reads on
# each, and durable writes through one PostgreSQL replica and through two
# (two wrk processes, one per replica, C/2 connections each; their rates add
# up, the p99 shown is the worse of the two). Installs wrk and PostgreSQL
# from Debian packages when missing.
# Usage: bench/wrk-postgres.sh [N users] [seconds per scenario] [connections] [pool size]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; D=${2:-10}; C=${3:-64}; POOL=${4:-8}
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
PGBIN=$(dirname "$(command -v pg_ctl 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -1)")
if ! command -v wrk >/dev/null || [ ! -x "$PGBIN/pg_ctl" ]; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk postgresql
  PGBIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")
fi
OUT=$(mktemp -d); chmod 755 "$OUT"
# PostgreSQL refuses to run as root: then it runs as the user postgres.
AS=(); [ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)
PGDATA=$OUT/pg; mkdir "$PGDATA"; [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
cleanup() { kill $(jobs -p) 2>/dev/null || true; "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true; rm -rf "$OUT"; }
trap cleanup EXIT
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${AS[@]}" "$PGBIN/initdb" -D "$PGDATA" -U scimgate --auth=trust -E UTF8 --no-locale >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/log" -w -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
URL="postgres://scimgate@127.0.0.1:$PGPORT/postgres?sslmode=disable&pool_max_conns=$POOL"

go build -o "$OUT/scimgate" ./cmd/scimgate
go build -o "$OUT/load" ./bench/load
PASS='Bench-pass-123!'
SCIMGATE_ADMIN_PASSWORD=$PASS "$OUT/load" -seed-db "$OUT/bench.db" -n "$N" -ids "$OUT/ids" >/dev/null
"$OUT/scimgate" migrate -from "$OUT/bench.db" -to "$URL" >"$OUT/migrate.log"; head -1 "$OUT/migrate.log"
# Vacuumed and analysed now, so that autovacuum does not do it (the GIN
# index's pending entries, the new tables' statistics) during the first
# scenario, and read into shared buffers (pg_prewarm, in the postgresql
# package), as bbolt's file is in the page cache: else the first scenario
# measured pays for warming them.
PSQL=$PGBIN/psql; [ -x "$PSQL" ] || PSQL=psql
"$PSQL" -q "${URL%%&*}" -c 'VACUUM ANALYZE'
sync # the copy's and the bbolt file's pages written back now, not during the first scenarios
"$PSQL" -q "${URL%%&*}" -c 'CREATE EXTENSION IF NOT EXISTS pg_prewarm' \
  -c "SELECT sum(pg_prewarm(oid::regclass)) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i')" >/dev/null
SECS=$(dd if=/dev/zero of="$OUT/probe" bs=4k count=1000 oflag=dsync 2>&1 | sed -nE 's/.*copied, ([0-9.]+) s.*/\1/p')
echo "fsync probe: $(awk -v s="$SECS" 'BEGIN { printf "%d", 1000 / s }') synchronous writes/s; pool_max_conns=$POOL per replica"

serve() { # serve PORT DB
  SCIMGATE_DB=$2 SCIMGATE_ADDR=127.0.0.1:$1 "$OUT/scimgate" serve >"$OUT/server-$1.log" 2>&1 &
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server on $1 did not start" >&2; cat "$OUT/server-$1.log" >&2; exit 1
}
serve 9280 "$OUT/bench.db"
# The floor of any request that asks PostgreSQL: a bare Echo handler sending
# one statement a request (GET: a user's stored JSON by primary key; PATCH:
# flip the user's active flag, one durable transaction), same pool size.
"$OUT/load" -baseline-serve 127.0.0.1:9283 -baseline-db "$URL" &
serve 9281 "$URL"
serve 9282 "$URL"
token() { curl -fsS -u "admin:$PASS" -d "name=wrk-$1" "http://127.0.0.1:$1/api/user_tokens/generate" | sed -E 's/.*"token":"([^"]+)".*/\1/'; }
TBOLT=$(token 9280); TPG=$(token 9281)

# wrkline CONNS PORT SCENARIO TOKEN: "rps p99" of one wrk run.
wrkline() {
  local res
  res=$(wrk -t"$([ "$1" -ge 2 ] && echo 2 || echo 1)" -c"$1" -d"${D}s" --latency -s bench/wrk/scim.lua "http://127.0.0.1:$2" -- "$3" "$OUT/ids" "$4" "p$2")
  echo "$(awk '/^Requests\/sec/ {print int($2)}' <<<"$res") $(awk '$1 == "99%" {print $2}' <<<"$res") $(awk '/Non-2xx/ {print $NF}' <<<"$res")"
}
row() { printf '%-40s %7s req/s  p99 %-9s non-2xx %s\n' "$1" "$2" "$3" "${4:-0}"; }
echo "wrk, $N users, $C connections, ${D}s a scenario, $(nproc) cores shared by servers, PostgreSQL and wrk"
for s in get username; do
  read -r b bp bb <<<"$(wrkline "$C" 9280 $s "$TBOLT")"; row "bbolt       $s" "$b" "$bp" "$bb"
  read -r p pp pb <<<"$(wrkline "$C" 9281 $s "$TPG")"; row "PostgreSQL  $s ($((100 * p / b))% of bbolt)" "$p" "$pp" "$pb"
  if [ $s = get ]; then
    read -r f fp fb <<<"$(wrkline "$C" 9283 get "")"; row "  floor: Echo + 1 query ($((100 * f / b))% of bbolt)" "$f" "$fp" "$fb"
  fi
done
for s in patch post; do
  read -r b bp bb <<<"$(wrkline "$C" 9280 $s "$TBOLT")"; row "bbolt       $s" "$b" "$bp" "$bb"
  read -r p pp pb <<<"$(wrkline "$C" 9281 $s "$TPG")"; row "PostgreSQL  $s, 1 replica" "$p" "$pp" "$pb"
  if [ $s = patch ]; then
    read -r f fp fb <<<"$(wrkline "$C" 9283 patch "")"; row "  floor: Echo + 1 UPDATE" "$f" "$fp" "$fb"
  fi
  wrkline $((C / 2)) 9281 $s "$TPG" >"$OUT/r1" & wrkline $((C / 2)) 9282 $s "$TPG" >"$OUT/r2"; wait %%
  read -r r1 p1 b1 <"$OUT/r1"; read -r r2 p2 b2 <"$OUT/r2"
  row "PostgreSQL  $s, 2 replicas" "$((r1 + r2))" "$p1 / $p2" "$((${b1:-0} + ${b2:-0}))"
done
