#!/usr/bin/env bash
# Paired login throughput: the service at BASE (a commit, default main) and
# the working tree's run side by side, each loaded by its own clients
# (cmd/latchkey-bench login, 4 clients) at the same time, so that whatever
# else the machine does slows both alike. Prints one line per run: the
# database, the hashing, the round, and both throughputs.
#
#   scripts/pair-login.sh [BASE]
#
# PAIR_DATABASES picks the databases (default "sqlite postgres");
# PAIR_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432) is where
# throwaway databases are made; PAIR_DURATION (10s) and PAIR_ROUNDS (3).
# Needs Go, curl, jq and psql.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
base_rev=${1:-main}
pg=${PAIR_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
duration=${PAIR_DURATION:-10s}
rounds=${PAIR_ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git archive "$base_rev" | tar -x -C "$work" --one-top-level=src
(cd "$work/src" && go build -o "$work/base" .)
go build -o "$work/head" .
go build -o "$work/load" ./cmd/latchkey-bench
for db in ${PAIR_DATABASES:-sqlite postgres}; do
  for hashing in default cheap; do
    for round in $(seq "$rounds"); do
      pids=() urls=()
      for v in base head; do
        if [ $db = sqlite ]; then
          uri="sqlite://$work/$v-$hashing-$round.db"
        else
          name="pair_${v}_$$_${hashing}_${round}"
          psql -q "$pg/postgres" -c "CREATE DATABASE $name" >/dev/null
          uri="$pg/$name?sslmode=disable"
        fi
        envs=(PORT=0 "DATABASE_URI=$uri" LOGIN_MAX_FAILURES=1000000000 RATE_LIMIT_LOGIN=1000000000/1m)
        if [ $hashing = cheap ]; then
          envs+=(PASSWORD_HASH_MEMORY=64 PASSWORD_HASH_ITERATIONS=1 PASSWORD_HASH_CONCURRENCY=4)
        fi
        env -i PATH="$PATH" "${envs[@]}" "$work/$v" >"$work/$v.log" 2>&1 &
        pids+=($!)
      done
      for i in 0 1; do
        v=$([ $i = 0 ] && echo base || echo head)
        u=$(service_url "${pids[$i]}" "$work/$v.log")
        urls+=("$u")
      done
      "$work/load" -url "${urls[0]}" -c 4 -d "$duration" -json login >"$work/base.json" 2>/dev/null &
      l1=$!
      "$work/load" -url "${urls[1]}" -c 4 -d "$duration" -json login >"$work/head.json" 2>/dev/null &
      l2=$!
      wait $l1 $l2
      printf '%s %s round %s: base %.1f/s, head %.1f/s\n' $db $hashing "$round" \
        "$(jq .throughput "$work/base.json")" "$(jq .throughput "$work/head.json")"
      kill "${pids[@]}"
      wait "${pids[@]}" 2>/dev/null || true
      if [ $db = postgres ]; then
        for v in base head; do psql -q "$pg/postgres" -c "DROP DATABASE pair_${v}_$$_${hashing}_${round}" >/dev/null; done
      fi
    done
  done
done
