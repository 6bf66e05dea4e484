"""person: station, slot and check-in indexes only over the rows that have one

Revision ID: 0005_person_partial_indexes
Revises: 0004_counters_hot_updates
Create Date: 2026-11-27 02:10:00

Every status change rewrites index entries; for the many people without a station,
slot or check-in yet (approvals, returns, allocation's source rows), partial indexes
have nothing to write. Queries by station_id, slot_id or a check-in time use them as before.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0005_person_partial_indexes'
down_revision = '0004_counters_hot_updates'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_person_station_status', ['station_id', 'status'], 'station_id'),
    ('ix_person_slot_status', ['slot_id', 'status'], 'slot_id'),
    ('ix_person_checked_in_at', ['checked_in_at', 'station_id'], 'checked_in_at'),
)


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        for name, columns, present in INDEXES:
            batch_op.drop_index(name)
            where = sa.text(f'{present} IS NOT NULL')
            batch_op.create_index(name, columns, unique=False, postgresql_where=where, sqlite_where=where)


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        for name, columns, _ in INDEXES:
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)
