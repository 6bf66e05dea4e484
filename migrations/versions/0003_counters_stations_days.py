"""station_status_count and vaccination_day_count; one trigger function keeps all counters

Revision ID: 0003_counters_stations_days
Revises: 0002_counters_status_count
Create Date: 2026-11-27 00:30:00

Dashboards read per-station figures and vaccinations per day from these tables instead
of grouping the persons table; today's check-ins use an index on checked_in_at. The
trigger statements come from models/counters.py (the current ones): a later change of
the counters needs a migration of its own that re-creates them.
"""
from alembic import op
import sqlalchemy as sa

from models.counters import drop_trigger_ddl, trigger_ddl

# revision identifiers, used by Alembic.
revision = '0003_counters_stations_days'
down_revision = '0002_counters_status_count'
branch_labels = None
depends_on = None

PREVIOUS = '0002_counters_status_count'


def _previous_module():
    return op.get_context().script.get_revision(PREVIOUS).module


def upgrade():
    op.create_table('station_status_count',
    sa.Column('station_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('station_id', 'status', name=op.f('pk_station_status_count'))
    )
    op.create_table('vaccination_day_count',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('station_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'station_id', name=op.f('pk_vaccination_day_count'))
    )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_checked_in_at', ['checked_in_at', 'station_id'], unique=False)

    dialect = op.get_bind().dialect.name
    previous = _previous_module()
    for name in previous.TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON person" if dialect == "postgresql"
                   else f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS person_status_count_apply()")
    for statement in trigger_ddl(dialect):
        op.execute(statement)

    day = "CAST(finished_at AS DATE)" if dialect == "postgresql" else "date(finished_at)"
    op.execute(
        "INSERT INTO station_status_count (station_id, status, n) "
        "SELECT station_id, status, count(*) FROM person WHERE station_id IS NOT NULL GROUP BY station_id, status"
    )
    op.execute(
        f"INSERT INTO vaccination_day_count (day, station_id, n) SELECT {day}, station_id, count(*) FROM person "
        "WHERE status = 'vaccinated' AND finished_at IS NOT NULL AND station_id IS NOT NULL "
        f"GROUP BY {day}, station_id"
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in drop_trigger_ddl(dialect):
        op.execute(statement)
    previous = _previous_module()
    for statement in previous.POSTGRESQL_TRIGGERS if dialect == "postgresql" else previous.SQLITE_TRIGGERS:
        op.execute(statement)
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index('ix_person_checked_in_at')
    op.drop_table('vaccination_day_count')
    op.drop_table('station_status_count')
