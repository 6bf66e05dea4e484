"""import_reject_file: refused import rows kept in the database, not on one server's disk

Revision ID: 0006_import_reject_files
Revises: 0005_person_partial_indexes
Create Date: 2026-11-27 03:45:00

With several app servers the download link of a rejected-rows workbook may reach a
server that did not write it; a table is shared by all of them.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0006_import_reject_files'
down_revision = '0005_person_partial_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'import_reject_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'],
                                name=op.f('fk_import_reject_file_enterprise_id_enterprise'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_reject_file')),
        sa.UniqueConstraint('token', name=op.f('uq_import_reject_file_token')),
    )
    with op.batch_alter_table('import_reject_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_reject_file_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('import_reject_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_reject_file_created_at'))
    op.drop_table('import_reject_file')
