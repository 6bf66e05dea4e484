"""lot_dose_count: doses given per vaccine lot, kept by triggers on vaccination

Revision ID: 0017_lot_dose_counts
Revises: 0016_person_reserved_slot
Create Date: 2026-12-02 22:30:00

The center's lot list, the recall list's 共 N 人次 and the AEFI rates per 10,000 doses read
this table instead of counting a lot's vaccination records on every page. The trigger DDL
is frozen here as models/lot_counts.py generated it on this date; the table is filled once
from the records already there.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017_lot_dose_counts'
down_revision = '0016_person_reserved_slot'
branch_labels = None
depends_on = None

POSTGRESQL = ('CREATE OR REPLACE FUNCTION lot_dose_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$\n'
  'BEGIN\n'
  "IF TG_OP = 'INSERT' THEN\n"
  'INSERT INTO lot_dose_count AS c (lot_id, n) SELECT lot_id, sum(k) FROM (SELECT v.lot_id, 1 AS k FROM new_rows v '
  "WHERE v.lot_id IS NOT NULL AND v.outcome = 'given' AND v.state = 'valid') AS m GROUP BY lot_id HAVING sum(k) <> "
  '0 ORDER BY lot_id ON CONFLICT (lot_id) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
  "ELSIF TG_OP = 'DELETE' THEN\n"
  'INSERT INTO lot_dose_count AS c (lot_id, n) SELECT lot_id, sum(k) FROM (SELECT v.lot_id, -1 AS k FROM old_rows v '
  "WHERE v.lot_id IS NOT NULL AND v.outcome = 'given' AND v.state = 'valid') AS m GROUP BY lot_id HAVING sum(k) <> "
  '0 ORDER BY lot_id ON CONFLICT (lot_id) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
  'ELSE\n'
  'INSERT INTO lot_dose_count AS c (lot_id, n) SELECT lot_id, sum(k) FROM (SELECT v.lot_id, -1 AS k FROM old_rows v '
  "WHERE v.lot_id IS NOT NULL AND v.outcome = 'given' AND v.state = 'valid' UNION ALL SELECT v.lot_id, 1 AS k FROM "
  "new_rows v WHERE v.lot_id IS NOT NULL AND v.outcome = 'given' AND v.state = 'valid') AS m GROUP BY lot_id HAVING "
  'sum(k) <> 0 ORDER BY lot_id ON CONFLICT (lot_id) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
  'END IF;\n'
  'RETURN NULL;\n'
  'END\n'
  '$$',
  'CREATE TRIGGER lot_dose_counts_insert AFTER INSERT ON vaccination REFERENCING NEW TABLE AS new_rows FOR EACH '
  'STATEMENT EXECUTE FUNCTION lot_dose_counts_apply()',
  'CREATE TRIGGER lot_dose_counts_update AFTER UPDATE ON vaccination REFERENCING OLD TABLE AS old_rows NEW TABLE AS '
  'new_rows FOR EACH STATEMENT EXECUTE FUNCTION lot_dose_counts_apply()',
  'CREATE TRIGGER lot_dose_counts_delete AFTER DELETE ON vaccination REFERENCING OLD TABLE AS old_rows FOR EACH '
  'STATEMENT EXECUTE FUNCTION lot_dose_counts_apply()')

SQLITE = ('CREATE TRIGGER lot_dose_count_insert AFTER INSERT ON vaccination BEGIN INSERT INTO lot_dose_count (lot_id, n) '
  "SELECT NEW.lot_id, 1 WHERE NEW.lot_id IS NOT NULL AND NEW.outcome = 'given' AND NEW.state = 'valid' ON CONFLICT "
  '(lot_id) DO UPDATE SET n = n + (1); END',
  'CREATE TRIGGER lot_dose_count_update AFTER UPDATE OF lot_id, state, outcome ON vaccination WHEN NEW.lot_id IS '
  'NOT OLD.lot_id OR NEW.state IS NOT OLD.state OR NEW.outcome IS NOT OLD.outcome BEGIN INSERT INTO lot_dose_count '
  "(lot_id, n) SELECT OLD.lot_id, -1 WHERE OLD.lot_id IS NOT NULL AND OLD.outcome = 'given' AND OLD.state = 'valid' "
  'ON CONFLICT (lot_id) DO UPDATE SET n = n + (-1); INSERT INTO lot_dose_count (lot_id, n) SELECT NEW.lot_id, 1 '
  "WHERE NEW.lot_id IS NOT NULL AND NEW.outcome = 'given' AND NEW.state = 'valid' ON CONFLICT (lot_id) DO UPDATE "
  'SET n = n + (1); END',
  'CREATE TRIGGER lot_dose_count_delete AFTER DELETE ON vaccination BEGIN INSERT INTO lot_dose_count (lot_id, n) '
  "SELECT OLD.lot_id, -1 WHERE OLD.lot_id IS NOT NULL AND OLD.outcome = 'given' AND OLD.state = 'valid' ON CONFLICT "
  '(lot_id) DO UPDATE SET n = n + (-1); END')

BACKFILL = (
    "INSERT INTO lot_dose_count (lot_id, n) SELECT lot_id, COUNT(*) FROM vaccination "
    "WHERE lot_id IS NOT NULL AND outcome = 'given' AND state = 'valid' GROUP BY lot_id"
)
TRIGGERS = {
    'postgresql': ('lot_dose_counts_insert', 'lot_dose_counts_update', 'lot_dose_counts_delete'),
    'sqlite': ('lot_dose_count_insert', 'lot_dose_count_update', 'lot_dose_count_delete'),
}


def upgrade():
    op.create_table(
        'lot_dose_count',
        sa.Column('lot_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('lot_id', name=op.f('pk_lot_dose_count')),
    )
    op.execute(BACKFILL)
    dialect = op.get_bind().dialect.name
    for statement in (POSTGRESQL if dialect == 'postgresql' else SQLITE):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        for name in TRIGGERS['postgresql']:
            op.execute(f'DROP TRIGGER IF EXISTS {name} ON vaccination')
        op.execute('DROP FUNCTION IF EXISTS lot_dose_counts_apply()')
    else:
        for name in TRIGGERS['sqlite']:
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.drop_table('lot_dose_count')
