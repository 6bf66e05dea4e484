"""person.reserved_slot_id: the dose-2 window reserved when dose 1 was booked

Revision ID: 0016_person_reserved_slot
Revises: 0015_dose_counts
Create Date: 2026-12-02 18:40:00

A product with reserve_next_dose makes the booking of dose 1 also hold a place in a
dose-2 window of the same station (counted in that window's booked). The place becomes
the dose-2 booking when dose 1 is given and is released when dose 1 is cancelled or not
given. Nobody holds one yet.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0016_person_reserved_slot'
down_revision = '0015_dose_counts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reserved_slot_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_person_reserved_slot_id_appointment_slot', 'appointment_slot',
                                    ['reserved_slot_id'], ['id'])
    op.create_index('ix_person_reserved_slot', 'person', ['reserved_slot_id'], unique=False,
                    postgresql_where=sa.text('reserved_slot_id IS NOT NULL'),
                    sqlite_where=sa.text('reserved_slot_id IS NOT NULL'))


def downgrade():
    op.drop_index('ix_person_reserved_slot', table_name='person')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint('fk_person_reserved_slot_id_appointment_slot', type_='foreignkey')
        batch_op.drop_column('reserved_slot_id')
