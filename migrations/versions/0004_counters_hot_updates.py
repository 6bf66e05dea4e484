"""counters: no index on n, room on each page, so a count changes in place (HOT update)

Revision ID: 0004_counters_hot_updates
Revises: 0003_counters_stations_days
Create Date: 2026-11-27 01:10:00

Every person statement updates a few counter rows. With n in an index each update writes
a new index entry and the table bloats; without it, and with free space on the pages
(fillfactor 70, PostgreSQL), PostgreSQL rewrites the row in place on the same page.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004_counters_hot_updates'
down_revision = '0003_counters_stations_days'
branch_labels = None
depends_on = None

TABLES = ('person_status_count', 'station_status_count', 'vaccination_day_count')


def upgrade():
    with op.batch_alter_table('person_status_count', schema=None) as batch_op:
        batch_op.drop_index('ix_person_status_count_status')
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'ALTER TABLE {table} SET (fillfactor = 70)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'ALTER TABLE {table} RESET (fillfactor)')
    with op.batch_alter_table('person_status_count', schema=None) as batch_op:
        batch_op.create_index('ix_person_status_count_status', ['status', 'enterprise_id', 'n'], unique=False)
