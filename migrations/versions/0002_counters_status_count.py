"""person_status_count: persons per (enterprise, status), kept by triggers

Revision ID: 0002_counters_status_count
Revises: 0001_initial_schema
Create Date: 2026-11-26 23:45:00

The counts let list pages, tab counts, trees and dashboards answer without count(*)
over the persons table (see models/counters.py, which holds the trigger statements).
"""
from alembic import op
import sqlalchemy as sa

from models.counters import drop_trigger_ddl, trigger_ddl

# revision identifiers, used by Alembic.
revision = '0002_counters_status_count'
down_revision = '0001_initial_schema'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('person_status_count',
    sa.Column('enterprise_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('enterprise_id', 'status', name=op.f('pk_person_status_count'))
    )
    with op.batch_alter_table('person_status_count', schema=None) as batch_op:
        batch_op.create_index('ix_person_status_count_status', ['status', 'enterprise_id', 'n'], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in trigger_ddl(dialect):
        op.execute(statement)
    # Count the persons already there, once; the triggers keep the figures from now on.
    op.execute(
        "INSERT INTO person_status_count (enterprise_id, status, n) "
        "SELECT enterprise_id, status, count(*) FROM person GROUP BY enterprise_id, status"
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in drop_trigger_ddl(dialect):
        op.execute(statement)
    with op.batch_alter_table('person_status_count', schema=None) as batch_op:
        batch_op.drop_index('ix_person_status_count_status')
    op.drop_table('person_status_count')
