"""person.exit_claimed_by_id, exit_claimed_at: the exit-desk nurse who took a waiting person with 下一位

Revision ID: 0022_person_exit_claim
Revises: 0019_user_failures_since
Create Date: 2026-12-03 07:50:00

Two nurses pressing 下一位 at once got the same person: 下一位 now claims the person it opens
in one UPDATE, and skips those another nurse claimed a short while ago. Nobody holds one yet.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0022_person_exit_claim'
down_revision = '0019_user_failures_since'
branch_labels = None
depends_on = None


FK_NAME = 'fk_person_exit_claimed_by_id_user'


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.add_column('person', sa.Column('exit_claimed_by_id', sa.Integer(), nullable=True))
        op.create_foreign_key(FK_NAME, 'person', 'user', ['exit_claimed_by_id'], ['id'])
    else:
        # SQLite adds nullable columns in place; copying the table (batch mode) would trip the
        # triggers of other tables that read person.
        op.execute(f'ALTER TABLE person ADD COLUMN exit_claimed_by_id INTEGER '
                   f'CONSTRAINT {FK_NAME} REFERENCES user (id)')
    op.add_column('person', sa.Column('exit_claimed_at', sa.DateTime(), nullable=True))


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.drop_constraint(FK_NAME, 'person', type_='foreignkey')
        op.drop_column('person', 'exit_claimed_by_id')
        op.drop_column('person', 'exit_claimed_at')
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
        batch_op.drop_column('exit_claimed_by_id')
        batch_op.drop_column('exit_claimed_at')
    for kind, name, sql in kept:
        op.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
        op.execute(sql)
