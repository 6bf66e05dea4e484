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


FK_NAME = 'fk_person_reserved_slot_id_appointment_slot'
INDEX_NAME = 'ix_person_reserved_slot'


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.add_column('person', sa.Column('reserved_slot_id', sa.Integer(), nullable=True))
        op.create_foreign_key(FK_NAME, 'person', 'appointment_slot', ['reserved_slot_id'], ['id'])
    else:
        # SQLite adds a nullable column with its reference in place; copying the table (batch
        # mode) would trip the triggers of other tables that read person.
        op.execute(f'ALTER TABLE person ADD COLUMN reserved_slot_id INTEGER '
                   f'CONSTRAINT {FK_NAME} REFERENCES appointment_slot (id)')
    where = sa.text('reserved_slot_id IS NOT NULL')
    op.create_index(INDEX_NAME, 'person', ['reserved_slot_id'], unique=False, postgresql_where=where,
                    sqlite_where=where)


def downgrade():
    op.drop_index(INDEX_NAME, table_name='person')
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.drop_constraint(FK_NAME, 'person', type_='foreignkey')
        op.drop_column('person', 'reserved_slot_id')
        return
    # SQLite drops a referencing column only by copying the table: every trigger (those of
    # other tables read person too) and person's indexes are set aside and put back.
    kept = bind.execute(sa.text(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        "AND (type = 'trigger' OR (type = 'index' AND tbl_name = 'person'))")).all()
    for kind, name, _ in kept:
        if kind == 'trigger':
            op.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    with op.batch_alter_table('person', schema=None, recreate='always') as batch_op:
        batch_op.drop_column('reserved_slot_id')
    for kind, name, sql in kept:
        op.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
        op.execute(sql)
