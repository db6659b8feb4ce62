#!/bin/sh
# Times users import of 100,000 users (and a second run, every user
# existing) with the binary, on SQLite and on PostgreSQL, and reports the
# peak memory: docs/performance.md#users-import. The hashes are copied from
# internal/password/testdata/legacy.json: the import validates and stores
# them, it does not hash.
#
#   scripts/import-bench.sh                 # 100,000 users
#   IMPORT_USERS=10000 scripts/import-bench.sh
#
# PostgreSQL: TEST_DATABASE_URL (a database is created and dropped beside
# it); skipped when unset.
set -eu
n=${IMPORT_USERS:-100000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/latchkey" .
python3 - "$n" "$dir/users.jsonl" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
hashes = [r["hash"] for r in json.load(open("internal/password/testdata/legacy.json")) if not r["refused"]]
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"email": f"user{i}@example.com", "password_hash": hashes[i % len(hashes)],
            "display_name": f"User {i}", "roles": ["user"], "email_verified": i % 2 == 0,
            "created_at": "2021-03-04T05:06:07Z", "legacy_id": i}) + "\n")
PY
run() {
	for pass in first again; do
		printf '%s, %s run: ' "$1" "$pass"
		DATABASE_URI=$2 /usr/bin/time -f '%e s, %M KiB peak RSS' "$dir/latchkey" users import "$dir/users.jsonl" --report "$dir/report.jsonl" 2>&1 |
			grep -v '^{' | tr '\n' ' '
		echo
	done
}
run sqlite "sqlite://$dir/bench.db"
if [ -n "${TEST_DATABASE_URL:-}" ]; then
	db=latchkey_import_bench
	psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	run postgres "$(echo "$TEST_DATABASE_URL" | sed "s#/[^/?]*\(?\|\$\)#/$db\1#")"
	psql "$TEST_DATABASE_URL" -qc "DROP DATABASE $db"
fi
