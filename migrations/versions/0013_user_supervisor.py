"""user.is_supervisor: a station's supervisor may approve a dose before its interval has passed

Revision ID: 0013_user_supervisor
Revises: 0012_certificates
Create Date: 2026-12-01 22:40:00

The desk refuses 登记 of a next dose before its first allowed day (间隔不足); the station's
supervisor approves an exception with their own password and a reason, which the audit
event keeps. Existing accounts are not supervisors until the admin marks them.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0013_user_supervisor'
down_revision = '0012_certificates'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_supervisor', sa.Boolean(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('is_supervisor')
