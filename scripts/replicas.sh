#!/usr/bin/env bash
# Measures me and refresh with 1, 2 and 3 replicas of the service on one
# PostgreSQL database, and writes the table of docs/performance.md's
# "Replicas" section. For each replica count it creates a throwaway
# database, starts that many processes of the binary on it, drives them all
# with the load tool (-url with every replica's URL: the requests take the
# replicas in turn, as a round-robin balancer sends them), runs each
# scenario REPLICAS_RUNS times, counts the database's connections, stops
# the replicas and drops the database.
#
#   scripts/replicas.sh                          # 1 2 3 replicas, 3 runs of 10 s each
#   REPLICAS_COUNTS="1 2" REPLICAS_RUNS=1 REPLICAS_DURATION=3s REPLICAS_DOC= scripts/replicas.sh
#
# Settings (environment):
#   REPLICAS_COUNTS      replica counts (default "1 2 3")
#   REPLICAS_RUNS        runs per scenario and count (default 3); the table gives their range
#   REPLICAS_DURATION    load per run (default 10s)
#   REPLICAS_CONCURRENCY clients per run, over all replicas (default 16)
#   REPLICAS_MAX_CONNS   DATABASE_MAX_CONNS of each replica (default 10)
#   PERF_POSTGRES_URL    server where the throwaway databases are created and dropped
#                        (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   REPLICAS_URI_PARAMS  added to the service's DATABASE_URI, e.g. default_query_exec_mode=exec
#   REPLICAS_DOC         document whose table is replaced (default docs/performance.md;
#                        empty: print the table instead)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

counts=${REPLICAS_COUNTS:-1 2 3}
runs=${REPLICAS_RUNS:-3}
duration=${REPLICAS_DURATION:-10s}
clients=${REPLICAS_CONCURRENCY:-16}
max_conns=${REPLICAS_MAX_CONNS:-10}
uri_params=${REPLICAS_URI_PARAMS:-}
pg_url=${PERF_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
doc=${REPLICAS_DOC-docs/performance.md}

work=$(mktemp -d)
pids=()
pg_db=
stop_replicas() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
drop_db() {
  if [ -n "$pg_db" ]; then psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  pg_db=
}
cleanup() { stop_replicas; drop_db; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

say "building"
go build -o "$work/latchkey" .
go build -o "$work/latchkey-bench" ./cmd/latchkey-bench
limit=600
if [[ $duration =~ ^([0-9]+)s$ ]]; then limit=$(( BASH_REMATCH[1] + 120 )); fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +'%Y-%m-%d %H:%M UTC')
max_connections=$(psql -qAt "$pg_url" -c "SHOW max_connections")
reserved=$(psql -qAt "$pg_url" -c "SHOW superuser_reserved_connections")

rows=()
for n in $counts; do
  pg_db="latchkey_replicas_$$_$n"
  psql -q "$pg_url" -c "CREATE DATABASE $pg_db" >/dev/null
  uri=$(printf '%s' "$pg_url" | sed -E "s#^(postgres(ql)?://[^/]+)/[^?]*#\1/$pg_db#")
  if [ -n "$uri_params" ]; then
    case $uri in *\?*) uri="$uri&$uri_params" ;; *) uri="$uri?$uri_params" ;; esac
  fi
  urls=()
  say "$n replica(s): starting"
  for i in $(seq "$n"); do
    # One issuer for all: its default names each replica's own port, and
    # a token would then be refused by the replicas that did not issue it.
    DATABASE_URI=$uri DATABASE_MAX_CONNS=$max_conns PORT=0 JWT_ISSUER=http://latchkey.replicas RATE_LIMIT_REGISTER=0 \
      PLAYGROUND=false INTROSPECTION=false "$work/latchkey" >"$work/replica-$n-$i.log" 2>&1 &
    pids+=($!)
  done
  for i in $(seq "$n"); do
    u=$(service_url "${pids[$((i - 1))]}" "$work/replica-$n-$i.log")
    urls+=("$u")
  done
  list=$(IFS=,; echo "${urls[*]}")
  peak=0
  for s in me refresh; do
    for r in $(seq "$runs"); do
      say "$n replica(s): $s, run $r of $runs"
      f="$work/$n-$s-$r.json"
      timeout "$limit" "$work/latchkey-bench" -url "$list" -c "$clients" -d "$duration" -progress 5s -json "$s" >"$f" || true
      summary "$f"
      c=$(psql -qAt "$pg_url" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$pg_db'")
      [ "$c" -gt "$peak" ] && peak=$c
    done
  done
  # One row: per scenario the range of throughput over the runs, the
  # median run's p50 and p99, and every run's errors.
  row=$(jq -rs --argjson n "$n" --argjson conns "$max_conns" --argjson peak "$peak" '
    def range: (map(.throughput) | sort) as $t
      | if ($t[0] | floor) == ($t[-1] | floor) then "\($t[0] | floor)" else "\($t[0] | floor)–\($t[-1] | floor)" end;
    def median: sort_by(.throughput) | .[(length - 1) / 2 | floor];
    def cells: "\(range) | \(median.latencyMs.p50) / \(median.latencyMs.p99) | \(map(.errors) | add)";
    (map(select(.scenario == "me"))) as $me | (map(select(.scenario == "refresh"))) as $rf
    | "| \($n) | \($n * $conns) (\($peak) open) | \($me | cells) | \($rf | cells) |"' "$work/$n"-*.json)
  rows+=("$row")
  stop_replicas
  drop_db
done

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
table="Measured $started by \`scripts/replicas.sh\` at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' 2>/dev/null || echo ' (with uncommitted changes)'):
$(nproc) CPUs ($cpu), $(go version | cut -d' ' -f3), PostgreSQL $(psql -qAt "$pg_url" -c 'SHOW server_version' | cut -d' ' -f1)
(max_connections $max_connections, superuser_reserved_connections $reserved), $clients clients over all
replicas, $duration per run, $runs runs per figure (ranges are lowest–highest
throughput; latencies are of the median run), DATABASE_MAX_CONNS=$max_conns${uri_params:+, $uri_params in the URI};
replicas, PostgreSQL and the load tool on the same machine. Load average
$load_before before the runs, $(cut -d' ' -f1-3 /proc/loadavg) after.

| replicas | connections allowed (open after the runs) | \`me\` ok/s | \`me\` p50 / p99 ms | \`me\` errors | \`refresh\` ok/s | \`refresh\` p50 / p99 ms | \`refresh\` errors |
| --- | --- | --- | --- | --- | --- | --- | --- |
$(printf '%s\n' "${rows[@]}")"

if [ -z "$doc" ]; then
  printf '%s\n' "$table"
  exit 0
fi
begin='<!-- replicas.sh: begin -->'
end='<!-- replicas.sh: end -->'
if ! grep -qF "$begin" "$doc" || ! grep -qF "$end" "$doc"; then
  echo "replicas.sh: $doc has no $begin ... $end markers" >&2
  exit 1
fi
TABLE=$table awk -v b="$begin" -v e="$end" '
  $0 == b { print; print ""; print ENVIRON["TABLE"]; print ""; skip = 1; next }
  $0 == e { skip = 0 }
  !skip' "$doc" >"$work/doc" && cat "$work/doc" >"$doc"
say "table written into $doc"
