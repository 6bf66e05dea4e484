"""The migration files build exactly the schema the models describe, on this run's database."""

import ast
import re
import uuid
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, text

from app import create_app
from extensions import db
from models.counters import trigger_ddl
from models.department_counts import trigger_ddl as department_trigger_ddl
from models.dose_counts import trigger_ddl as dose_trigger_ddl

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"
APP_PACKAGES = {"models", "services", "admin_views", "public_forms", "api", "app", "extensions", "config", "cli"}


def _fresh_database_url(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        return "sqlite:///" + str(tmp_path / "migrated.sqlite3"), None
    schema = "m_" + uuid.uuid4().hex[:10]
    base = database_url.split("?")[0]
    engine = create_engine(base)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    return f"{base}?options=-csearch_path%3D{schema}", (engine, schema)


def test_migrations_reach_the_models_schema(database_url, tmp_path):
    url, cleanup = _fresh_database_url(database_url, tmp_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    try:
        with app.app_context():
            upgrade()
            with db.engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                differences = compare_metadata(context, db.metadata)
                tables = set(inspect(connection).get_table_names())
            db.engine.dispose()
        assert differences == []
        assert {"person", "enterprise", "appointment_slot", "audit_event", "person_event"} <= tables
        assert _migrated_triggers(url) == _model_triggers(url), "the counters' triggers changed without a migration"
        assert _migrated_department_triggers(url) == _model_department_triggers(url), \
            "the department counters' triggers changed without a migration"
        assert _migrated_dose_triggers(url) == _model_dose_triggers(url), \
            "the dose counters' triggers changed without a migration"
    finally:
        if cleanup:
            engine, schema = cleanup
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()


def _model_triggers(url):
    """What models/counters.py would create: trigger names, and the function body (PostgreSQL) or SQL (SQLite)."""
    if url.startswith("postgresql"):
        statements = trigger_ddl("postgresql")
        body = re.search(r"\$\$(.*)\$\$", statements[0], re.S).group(1)
        names = sorted(re.search(r"CREATE TRIGGER (\w+)", s).group(1) for s in statements[1:])
        return names, body.strip()
    return sorted((re.search(r"CREATE TRIGGER (\w+)", s).group(1), s) for s in trigger_ddl("sqlite"))


def _migrated_triggers(url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if url.startswith("postgresql"):
                names = sorted(connection.execute(text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'person'::regclass AND NOT tgisinternal")).scalars())
                body = connection.execute(text(
                    "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE p.proname = 'person_counts_apply' AND n.nspname = current_schema()")).scalar_one()
                return names, body.strip()
            return sorted(connection.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'person'")).all())
    finally:
        engine.dispose()


def _model_department_triggers(url):
    """What models/department_counts.py would create: trigger names and function bodies, or the SQLite SQL."""
    statements = department_trigger_ddl("postgresql" if url.startswith("postgresql") else "sqlite")
    if url.startswith("postgresql"):
        bodies = sorted(re.search(r"\$\$(.*)\$\$", s, re.S).group(1).strip() for s in statements if "$$" in s)
        names = sorted(re.search(r"CREATE TRIGGER (\w+)", s).group(1) for s in statements if "$$" not in s)
        return names, bodies
    return sorted((re.search(r"CREATE TRIGGER (\w+)", s).group(1), s) for s in statements)


def _migrated_department_triggers(url):
    engine = create_engine(url)
    tables = ("person_status_count", "enterprise")
    try:
        with engine.connect() as connection:
            if url.startswith("postgresql"):
                names = sorted(connection.execute(text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid IN ('person_status_count'::regclass, "
                    "'enterprise'::regclass) AND NOT tgisinternal")).scalars())
                bodies = sorted(body.strip() for body in connection.execute(text(
                    "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE p.proname IN ('department_counts_apply', 'department_counts_move') "
                    "AND n.nspname = current_schema()")).scalars())
                return names, bodies
            return sorted(tuple(row) for row in connection.execute(text(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN {tables}")).all())
    finally:
        engine.dispose()


def _model_dose_triggers(url):
    """What models/dose_counts.py would create: the function body (PostgreSQL) or the trigger SQL (SQLite)."""
    statements = dose_trigger_ddl("postgresql" if url.startswith("postgresql") else "sqlite")
    if url.startswith("postgresql"):
        return re.search(r"\$\$(.*)\$\$", statements[0], re.S).group(1).strip()
    return sorted((re.search(r"CREATE TRIGGER (\w+)", s).group(1), s) for s in statements)


def _migrated_dose_triggers(url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if url.startswith("postgresql"):
                return connection.execute(text(
                    "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE p.proname = 'dose_counts_apply' AND n.nspname = current_schema()")).scalar_one().strip()
            return sorted(tuple(row) for row in connection.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'dose_count_%'")).all())
    finally:
        engine.dispose()


def test_no_migration_imports_the_apps_live_code():
    """A revision must mean the same forever: its DDL is frozen in it, never read from models/."""
    offenders = []
    for path in sorted(VERSIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {m}" for m in modules if m.split(".")[0] in APP_PACKAGES]
    assert not offenders, offenders
