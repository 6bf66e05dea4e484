"""session version per account; forgot-password progress kept on the code row

Revision ID: 0007_session_version_reset_state
Revises: 0006_import_reject_files
Create Date: 2026-12-01 21:50:00

user.session_version is part of every session's identity: logout, a new password and
deactivation raise it, so a saved copy of an old cookie stops working. sms_code gains
verified_at / reset_at, so the verified step of 忘记密码 lives on the server and is used once.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0007_session_version_reset_state'
down_revision = '0006_import_reject_files'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('reset_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.drop_column('reset_at')
        batch_op.drop_column('verified_at')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_version')
