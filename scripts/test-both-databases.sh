#!/usr/bin/env bash
# Every test twice: on SQLite (TEST_DATABASE_URL emptied, whatever the environment says) and on
# PostgreSQL (the first argument), the two runs side by side, one per core, each on its own Redis
# database (the Redis tests empty theirs). The two outputs are printed one after the other; the
# run fails when either does. Further arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
postgres_url="$1"
shift
redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
redis_server="${redis_url%/*}"
[[ "$redis_url" =~ /[0-9]+$ ]] || redis_server="$redis_url"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

TEST_DATABASE_URL= TEST_REDIS_URL="$redis_server/15" \
    .venv/bin/python -m pytest -p no:cacheprovider "$@" >"$logs/sqlite" 2>&1 &
sqlite=$!
TEST_DATABASE_URL="$postgres_url" TEST_REDIS_URL="$redis_server/14" \
    .venv/bin/python -m pytest -p no:cacheprovider "$@" >"$logs/postgresql" 2>&1 &
postgresql=$!

wait "$sqlite"; sqlite_status=$?
wait "$postgresql"; postgresql_status=$?
echo "======================== SQLite ========================"
cat "$logs/sqlite"
echo "====================== PostgreSQL ======================"
cat "$logs/postgresql"
echo "SQLite: exit $sqlite_status; PostgreSQL: exit $postgresql_status"
[[ $sqlite_status -eq 0 && $postgresql_status -eq 0 ]]
