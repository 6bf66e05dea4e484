"""The migration files build exactly the schema the models describe, on this run's database."""

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, text

from app import create_app
from extensions import db


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
    finally:
        if cleanup:
            engine, schema = cleanup
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
