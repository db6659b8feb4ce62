#!/usr/bin/env bash
# Reproduces every figure of docs/performance.md with one command: builds
# the service and the load tool, and on SQLite and on PostgreSQL starts the
# service alone, measures its idle memory, runs each floor next to its
# scenario (floor first, then the service, same clients and duration; for
# login and refresh the in-process floor before both), then the register
# and mixed scenarios, and rewrites the tables of docs/performance.md from
# the results.
#
#   scripts/perf.sh                      # both databases, 20 s per run
#   PERF_DURATION=5s PERF_DATABASES=sqlite scripts/perf.sh
#
# Settings (environment):
#   PERF_DURATION     load per run (default 20s); 44 runs in all with 3 rounds
#   PERF_ROUNDS       floor-and-service rounds per floored scenario (default 3)
#   PERF_CONCURRENCY  clients per run (default 8)
#   PERF_DATABASES    "sqlite postgres" (default) or one of them
#   PERF_POSTGRES_URL server where a throwaway database is created and dropped
#                     (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   PERF_DOC          document whose tables are replaced (default docs/performance.md;
#                     empty: print the tables instead)
#   PERF_OUT          directory for the raw JSON results (default: a temporary one)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

duration=${PERF_DURATION:-20s}
clients=${PERF_CONCURRENCY:-8}
rounds=${PERF_ROUNDS:-3}
databases=${PERF_DATABASES:-sqlite postgres}
pg_url=${PERF_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
doc=${PERF_DOC-docs/performance.md}

work=$(mktemp -d)
out=${PERF_OUT:-$work/results}
mkdir -p "$out"
service_pid=
pg_db=
cleanup() {
  if [ -n "$service_pid" ]; then kill "$service_pid" 2>/dev/null || true; wait "$service_pid" 2>/dev/null || true; fi
  if [ -n "$pg_db" ]; then psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work/bin" "$work"/*.db*
  [ -n "${PERF_OUT:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

say "building"
go build -o "$work/bin/latchkey" .
go build -o "$work/bin/latchkey-bench" ./cmd/latchkey-bench
bench="$work/bin/latchkey-bench"
# Each run gets its duration plus a margin for setup; a run that hangs is cut.
limit=600
if [[ $duration =~ ^([0-9]+)s$ ]]; then limit=$(( BASH_REMATCH[1] + 120 )); fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +'%Y-%m-%d %H:%M UTC')

# run [floor] SCENARIO [FLAGS...]: one latchkey-bench run whose JSON goes to
# SCENARIO.json, or floor-SCENARIO.json, in the database's directory; in a
# round after the first ($round > 1), to SCENARIO.ROUND.json. Failed
# requests are in the JSON; they do not stop the script.
run() {
  local sub=() name
  if [ "$1" = floor ]; then sub=(floor); name="floor-$2"; shift; else name=$1; fi
  local scenario=$1; shift
  if [ "${round:-1}" -gt 1 ]; then name="$name.$round"; fi
  say "$db: $name"
  timeout "$limit" "$bench" "${sub[@]}" "$@" -c "$clients" -d "$duration" -progress 5s -json "$scenario" >"$dir/$name.json" || true
  summary "$dir/$name.json"
}

for db in $databases; do
  dir="$out/$db"
  mkdir -p "$dir"
  case $db in
    sqlite) uri="sqlite://$work/perf.db" ;;
    postgres)
      pg_db="latchkey_perf_$$"
      if ! psql -q "$pg_url" -c "CREATE DATABASE $pg_db" >/dev/null; then
        echo "perf.sh: cannot create a database on PERF_POSTGRES_URL; skipping PostgreSQL" >&2
        pg_db=
        continue
      fi
      uri=$(printf '%s' "$pg_url" | sed -E "s#^(postgres(ql)?://[^/]+)/[^?]*#\1/$pg_db#")
      ;;
    *) echo "perf.sh: unknown database $db" >&2; exit 2 ;;
  esac

  # The service's settings, which the floors read too: the defaults but for
  # the registration limit, which would refuse the register scenario, and
  # the playground and introspection, which production turns off.
  export DATABASE_URI=$uri PORT=0 RATE_LIMIT_REGISTER=0 PLAYGROUND=false INTROSPECTION=false

  say "$db: starting the service"
  "$work/bin/latchkey" >"$dir/service.log" 2>&1 &
  service_pid=$!
  url=$(service_url "$service_pid" "$dir/service.log")
  sleep 2 # let the start's garbage go
  awk '/^VmRSS:/ {print $2}' "/proc/$service_pid/status" >"$dir/idle.kib"

  for s in me login refresh; do
    case $s in login | refresh) run floor "$s-raw" ;; esac
    for round in $(seq "$rounds"); do
      run floor "$s"
      run "$s" -url "$url" -pid "$service_pid"
    done
    round=1
  done
  run register -url "$url" -pid "$service_pid"
  run mixed -url "$url" -pid "$service_pid"

  kill -TERM "$service_pid"
  wait "$service_pid" || true
  service_pid=
  if [ -n "$pg_db" ]; then
    psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
    pg_db=
  fi
done

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
note="Measured $started by \`scripts/perf.sh\` at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' 2>/dev/null || echo ' (with uncommitted changes)'):
$(nproc) CPUs ($cpu), $(go version | cut -d' ' -f3), $clients clients, $duration per run, $rounds rounds,
service, load tool and floors on the same machine. Load average $load_before
before the runs, $(cut -d' ' -f1-3 /proc/loadavg) after."

dirs=()
for db in $databases; do [ -d "$out/$db" ] && dirs+=("$out/$db"); done
if [ -n "$doc" ]; then
  "$bench" tables -into "$doc" -note "$note" "${dirs[@]}"
  say "tables written into $doc"
else
  "$bench" tables -note "$note" "${dirs[@]}"
fi
[ -z "${PERF_OUT:-}" ] || say "raw results in $out"
