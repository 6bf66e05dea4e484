"""certificates: what was issued (接种凭证), which dose records each states

Revision ID: 0012_certificates
Revises: 0011_lots_stock_observation_aefi
Create Date: 2026-12-01 22:00:00

A certificate records its public id (the token's jti), the person, the signing key's
kid, when it was issued, the token itself and the certificate that superseded it;
certificate_dose lists the vaccination rows it states. Revocation is derived from
these and vaccination.state, so nothing else is stored.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0012_certificates'
down_revision = '0011_lots_stock_observation_aefi'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'certificate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=32), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('kid', sa.String(length=32), nullable=False),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('superseded_by_id', sa.Integer(), nullable=True),
        sa.Column('token', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_certificate_person_id_person'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['superseded_by_id'], ['certificate.id'],
                                name=op.f('fk_certificate_superseded_by_id_certificate')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate')),
        sa.UniqueConstraint('public_id', name=op.f('uq_certificate_public_id')),
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_person_id'), ['person_id'], unique=False)
    op.create_table(
        'certificate_dose',
        sa.Column('certificate_id', sa.Integer(), nullable=False),
        sa.Column('vaccination_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'],
                                name=op.f('fk_certificate_dose_certificate_id_certificate'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['vaccination_id'], ['vaccination.id'],
                                name=op.f('fk_certificate_dose_vaccination_id_vaccination')),
        sa.PrimaryKeyConstraint('certificate_id', 'vaccination_id', name=op.f('pk_certificate_dose')),
    )
    with op.batch_alter_table('certificate_dose', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_dose_vaccination_id'), ['vaccination_id'], unique=False)


def downgrade():
    with op.batch_alter_table('certificate_dose', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_dose_vaccination_id'))
    op.drop_table('certificate_dose')
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_person_id'))
    op.drop_table('certificate')
