# Helpers of scripts/perf.sh and scripts/replicas.sh, which source this file.

# say TEXT: a heading on stderr.
say() { printf '\n== %s\n' "$*" >&2; }

# service_url PID LOG: waits up to 30 s for the service PID, started with
# PORT=0 and logging to LOG, to listen and answer /readyz, and prints its
# base URL; if it ends or stays unready, prints LOG and fails. The kernel
# picks the port: one chosen here could be taken meanwhile.
service_url() {
  local pid=$1 log=$2 addr url
  for _ in $(seq 300); do
    addr=$(jq -Rr 'fromjson? | select(.msg == "listening") | .addr' "$log" 2>/dev/null | head -1)
    url="http://127.0.0.1:${addr##*:}"
    if [ -n "$addr" ] && curl -fsS -o /dev/null "$url/readyz" 2>/dev/null; then
      echo "$url"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the service did not become ready:" >&2
  cat "$log" >&2
  return 1
}

# summary FILE: one line on stderr from a latchkey-bench JSON report.
summary() {
  jq -r '"\(.scenario): \(.throughput | floor) ok/s, p50 \(.latencyMs.p50) ms, p99 \(.latencyMs.p99) ms, \(.errors) errors"' "$1" >&2 || true
}
