"""Backups restore the data exactly: back up, change, restore, compare, on SQLite and on PostgreSQL.

The PostgreSQL round trip runs on a database of its own (`CREATE DATABASE bk_<uuid>`),
migrated with the real migration files, since pg_dump and pg_restore work on whole
databases; it is dropped at the end.
"""

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from extensions import db
from models.demo import seed
from services import backup as backup_service

REPO = Path(__file__).resolve().parent.parent
TABLES = ("person", "person_event", "audit_event", "appointment_slot", "enterprise", "user", "alembic_version")


@pytest.fixture
def database(database_url, tmp_path):
    """A migrated database of its own with the demo data; yields its URL."""
    if database_url.startswith("postgresql"):
        base = make_url(database_url.split("?")[0])
        name = "bk_" + uuid.uuid4().hex[:12]
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
    else:
        admin, name = None, None
        url = "sqlite:///" + str(tmp_path / "live.sqlite3")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        seed(enterprise_count=20, person_count=300)
        db.session.commit()
        db.engine.dispose()
    try:
        yield url
    finally:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def fingerprint(url):
    """Row counts of the main tables and the status/version of every person."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            counts = {t: connection.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in TABLES}
            people = connection.execute(text("SELECT id, status, version, station_id, slot_id FROM person "
                                             "ORDER BY id")).all()
            booked = connection.execute(text("SELECT SUM(booked) FROM appointment_slot")).scalar()
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    return counts, [tuple(row) for row in people], booked, revision


def change_everything(url):
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM person_event WHERE person_id IN "
                                    "(SELECT id FROM person WHERE status = 'vaccinated')"))
            connection.execute(text("DELETE FROM card_read"))
            connection.execute(text("UPDATE person SET slot_id = NULL, status = 'allocated', "
                                    "checked_in_at = NULL, appointed_at = NULL, finished_at = NULL, "
                                    "version = version + 1 WHERE status = 'vaccinated'"))
            connection.execute(text("UPDATE appointment_slot SET booked = 0"))
            connection.execute(text("DELETE FROM person WHERE status = 'registered'"))
    finally:
        engine.dispose()


def flask_env(url):
    env = {k: v for k, v in os.environ.items() if k not in ("APP_ENV", "TEST_DATABASE_URL")}
    env["DATABASE_URL"] = url
    return env


def run(command, url):
    result = subprocess.run(command, cwd=REPO, env=flask_env(url), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_backup_change_restore_gives_back_the_same_data(database, tmp_path):
    before = fingerprint(database)
    assert before[0]["person"] == 300 and before[2] > 0
    backup_file = tmp_path / "binhai.backup"
    run([str(REPO / ".venv/bin/flask"), "--app", "app", "backup", str(backup_file)], database)
    assert backup_file.stat().st_size > 10_000

    change_everything(database)
    changed = fingerprint(database)
    assert changed != before and changed[0]["person"] < 300

    run([str(REPO / ".venv/bin/flask"), "--app", "app", "restore", "--yes", str(backup_file)], database)
    assert fingerprint(database) == before
    check = run([str(REPO / ".venv/bin/flask"), "--app", "app", "check-data"], database)
    assert "全部通过" in check.stdout


def test_backup_and_restore_scripts_round_trip(database, tmp_path):
    before = fingerprint(database)
    backups = tmp_path / "backups"
    made = run([str(REPO / "scripts/backup.sh"), str(backups)], database).stdout.strip().splitlines()[-1]
    backup_file = Path(made)
    assert backup_file.parent == backups and backup_file.exists()
    assert backup_file.suffix == (".dump" if database.startswith("postgresql") else ".sqlite3")
    assert oct(backup_file.stat().st_mode & 0o777) == "0o600"  # personal data: owner only

    change_everything(database)
    restored = run([str(REPO / "scripts/restore.sh"), str(backup_file), "--yes"], database)
    assert fingerprint(database) == before
    assert "全部通过" in restored.stdout


def test_backup_script_keeps_the_newest_backups(database, tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    extension = ".dump" if database.startswith("postgresql") else ".sqlite3"
    for day in range(1, 5):
        old = backups / f"binhai-2026010{day}-000000{extension}"
        old.write_text("old")
        os.utime(old, (1_700_000_000 + day, 1_700_000_000 + day))
    env = flask_env(database) | {"BACKUP_KEEP": "3"}
    result = subprocess.run([str(REPO / "scripts/backup.sh"), str(backups)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    kept = sorted(p.name for p in backups.iterdir())
    assert len(kept) == 3
    assert f"binhai-20260104-000000{extension}" in kept and f"binhai-20260103-000000{extension}" in kept
    assert Path(result.stdout.strip()).name in kept


def test_a_broken_backup_file_changes_nothing(database, tmp_path):
    before = fingerprint(database)
    broken = tmp_path / "broken.backup"
    broken.write_bytes(b"not a backup" * 100)
    with pytest.raises(backup_service.BackupError):
        backup_service.restore(database, broken)
    assert fingerprint(database) == before


@pytest.mark.postgres_only
def test_pg_dump_matches_the_server_version(database_url, monkeypatch):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL client tools: PostgreSQL run only")
    url = database_url.split("?")[0]
    client, server = backup_service.check_client_version(url)
    assert client >= server >= 15
    monkeypatch.setattr(backup_service, "tool_major_version", lambda tool: server - 1)
    with pytest.raises(backup_service.BackupError, match=f"postgresql-client-{server}"):
        backup_service.check_client_version(url)
