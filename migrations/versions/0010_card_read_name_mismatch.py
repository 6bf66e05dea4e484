"""card reads remember whether the card's name differed from the registered one

Revision ID: 0010_card_read_name_mismatch
Revises: 0009_card_read_validity
Create Date: 2026-12-01 22:15:00

Only the flag is kept, not the card's name: the desk shows 证件姓名与申报姓名不一致 (a
registration typed with a homophone for a rare character such as 䶮) whenever the read is
shown again, without storing more personal data than the person record already holds.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0010_card_read_name_mismatch'
down_revision = '0009_card_read_validity'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('card_read', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_mismatch', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('card_read', schema=None) as batch_op:
        batch_op.drop_column('name_mismatch')
