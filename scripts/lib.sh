# Helpers of scripts/perf.sh and scripts/replicas.sh, which source this file.

# say TEXT: a heading on stderr.
say() { printf '\n== %s\n' "$*" >&2; }

# wait_ready URL PID LOG: waits up to 30 s for URL/readyz to answer 200;
# if the process PID ends first, prints its LOG and exits.
wait_ready() {
  local url=$1 pid=$2 log=$3
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  curl -fsS -o /dev/null "$url/readyz"
}

# summary FILE: one line on stderr from a latchkey-bench JSON report.
summary() {
  jq -r '"\(.scenario): \(.throughput | floor) ok/s, p50 \(.latencyMs.p50) ms, p99 \(.latencyMs.p99) ms, \(.errors) errors"' "$1" >&2 || true
}
