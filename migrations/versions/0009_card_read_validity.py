"""card reads keep the card's type and validity period

Revision ID: 0009_card_read_validity
Revises: 0008_doses
Create Date: 2026-12-01 22:00:00

The reader agent sends what the card says about itself (居民身份证 or 港澳台居民居住证,
valid from, valid until or 长期), so the desk can flag an expired card (证件已过期).
Reads typed at the desk have none of it: every column is nullable.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0009_card_read_validity'
down_revision = '0008_doses'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('card_read', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_type', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('card_valid_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('card_valid_until', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('card_long_term', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('card_read', schema=None) as batch_op:
        batch_op.drop_column('card_long_term')
        batch_op.drop_column('card_valid_until')
        batch_op.drop_column('card_valid_from')
        batch_op.drop_column('card_type')
