"""sms_message delivery bookkeeping (attempts, claim, backend, receipt, dedupe key) and job_run

Revision ID: 0014_sms_delivery_queue
Revises: 0013_user_supervisor
Create Date: 2026-12-01 22:00:00

The worker claims messages atomically and records each gateway's answer; reminders are
made unique by a dedupe key; scheduled jobs keep their results for the admin. Messages
left queued by the old in-request sender become due now; 'stored' (the old outbox
state) becomes 'sent' through the outbox backend.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0014_sms_delivery_queue'
down_revision = '0013_user_supervisor'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('backend', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('pinned_backend', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('gateway_message_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('gateway_answer', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('sealed_body', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_sms_message_gateway_message_id'), ['gateway_message_id'], unique=False)
        batch_op.create_index('ix_sms_message_status_next_attempt', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_sms_message_dedupe_key'), ['dedupe_key'])
    op.execute("UPDATE sms_message SET next_attempt_at = created_at WHERE status = 'queued'")
    op.execute("UPDATE sms_message SET status = 'sent', backend = 'outbox' WHERE status = 'stored'")
    op.create_table(
        'job_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job', sa.String(length=40), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('ok', sa.Boolean(), nullable=True),
        sa.Column('summary', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run')),
    )
    op.create_index('ix_job_run_job_started', 'job_run', ['job', 'started_at'], unique=False)


def downgrade():
    op.drop_index('ix_job_run_job_started', table_name='job_run')
    op.drop_table('job_run')
    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sms_message_dedupe_key'), type_='unique')
        batch_op.drop_index('ix_sms_message_status_next_attempt')
        batch_op.drop_index(batch_op.f('ix_sms_message_gateway_message_id'))
        for column in ('sealed_body', 'dedupe_key', 'delivered_at', 'gateway_answer', 'gateway_message_id',
                       'pinned_backend', 'backend', 'claimed_by', 'claimed_at', 'next_attempt_at', 'attempts'):
            batch_op.drop_column(column)
