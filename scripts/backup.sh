#!/usr/bin/env bash
# Back up the database into a directory and keep the newest backups there.
#
#   scripts/backup.sh [DIR]        DIR defaults to $BACKUP_DIR, else /var/backups/binhai
#
# Uses the same settings as the app (DATABASE_URL; without it the SQLite file in instance/).
# PostgreSQL: pg_dump custom format (binhai-YYYYmmdd-HHMMSS.dump); SQLite: an online copy
# (binhai-YYYYmmdd-HHMMSS.sqlite3). Keeps the newest $BACKUP_KEEP (default 14) of the kind.
# Backups hold personal data: they are written readable by their owner only.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${BACKUP_DIR:-/var/backups/binhai}}"
keep="${BACKUP_KEEP:-14}"
flask="${FLASK:-$here/.venv/bin/flask}"
case "${DATABASE_URL:-sqlite}" in
  postgres*) ext=dump ;;
  *) ext=sqlite3 ;;
esac
umask 077
mkdir -p "$dir"
file="$(cd "$dir" && pwd)/binhai-$(date +%Y%m%d-%H%M%S).$ext"
(cd "$here" && "$flask" --app app backup "$file")
# Oldest last; everything after the newest $keep goes.
find "$dir" -maxdepth 1 -name "binhai-*.$ext" -printf '%T@ %p\n' | sort -rn | tail -n +$((keep + 1)) \
  | cut -d' ' -f2- | xargs -r rm -f --
echo "$file"
