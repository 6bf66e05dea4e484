"""user.failures_since: only the login failures of the last lock window count

Revision ID: 0019_user_failures_since
Revises: 0018_dose_totals
Create Date: 2026-12-02 22:30:00

The login page now warns 还可尝试 N 次 before the lock. Failures counted since the first of
them, and only within the lock window (as for a name without an account), so old mistakes
neither lock an account nor shorten its countdown. Stored counts start a fresh window.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0019_user_failures_since'
down_revision = '0018_dose_totals'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('user', sa.Column('failures_since', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('failures_since')
