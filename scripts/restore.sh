#!/usr/bin/env bash
# Restore the database from a backup made by scripts/backup.sh, then migrate and check it.
#
#   scripts/restore.sh FILE [--yes]
#
# Stop the app servers first (systemctl stop binhai): a restore replaces the tables.
# PostgreSQL: pg_restore --clean --if-exists in one transaction (a failed restore changes
# nothing); SQLite: the backup is copied into the database file. Afterwards the schema is
# upgraded to this version of the code (flask init-db) and check-data reports on the data.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -lt 1 ]; then
  echo "usage: $0 FILE [--yes]" >&2
  exit 2
fi
file="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shift
flask="${FLASK:-$here/.venv/bin/flask}"
cd "$here"
"$flask" --app app restore "$file" "$@"
"$flask" --app app init-db
"$flask" --app app check-data || echo "注意：check-data 发现问题 / warning: check-data found problems" >&2
