"""person_status_count: persons per (enterprise, status), kept by triggers

Revision ID: 0002_counters_status_count
Revises: 0001_initial_schema
Create Date: 2026-11-26 23:45:00

The counts let list pages, tab counts, trees and dashboards answer without count(*)
over the persons table (see models/counters.py, which holds the trigger statements).
"""
from alembic import op
import sqlalchemy as sa

# The trigger statements as they were at this revision (models/counters.py holds the current ones).
POSTGRESQL_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION person_status_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO person_status_count AS c (enterprise_id, status, n)
        SELECT enterprise_id, status, count(*) FROM new_rows GROUP BY enterprise_id, status
        ON CONFLICT (enterprise_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE person_status_count AS c SET n = c.n - d.k
        FROM (SELECT enterprise_id, status, count(*) AS k FROM old_rows GROUP BY enterprise_id, status) AS d
        WHERE c.enterprise_id = d.enterprise_id AND c.status = d.status;
    ELSE
        -- The net change per (enterprise, status): rows that kept both cancel out.
        WITH d AS (
            SELECT enterprise_id, status, sum(k) AS k FROM (
                SELECT enterprise_id, status, -1 AS k FROM old_rows
                UNION ALL
                SELECT enterprise_id, status, 1 AS k FROM new_rows
            ) AS moves
            GROUP BY enterprise_id, status
            HAVING sum(k) <> 0
        ), taken AS (
            UPDATE person_status_count AS c SET n = c.n + d.k
            FROM d WHERE d.k < 0 AND c.enterprise_id = d.enterprise_id AND c.status = d.status
        )
        INSERT INTO person_status_count AS c (enterprise_id, status, n)
        SELECT enterprise_id, status, k FROM d WHERE k > 0
        ON CONFLICT (enterprise_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$""",
    """CREATE TRIGGER person_status_count_insert AFTER INSERT ON person REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION person_status_count_apply()""",
    """CREATE TRIGGER person_status_count_update AFTER UPDATE ON person REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION person_status_count_apply()""",
    """CREATE TRIGGER person_status_count_delete AFTER DELETE ON person REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION person_status_count_apply()""",
)
SQLITE_TRIGGERS = (
    """CREATE TRIGGER person_status_count_insert AFTER INSERT ON person BEGIN INSERT INTO person_status_count (enterprise_id, status, n) VALUES (NEW.enterprise_id, NEW.status, 1) ON CONFLICT (enterprise_id, status) DO UPDATE SET n = n + 1; END""",
    """CREATE TRIGGER person_status_count_delete AFTER DELETE ON person BEGIN UPDATE person_status_count SET n = n - 1 WHERE enterprise_id = OLD.enterprise_id AND status = OLD.status; END""",
    """CREATE TRIGGER person_status_count_update AFTER UPDATE OF enterprise_id, status ON person WHEN NEW.enterprise_id IS NOT OLD.enterprise_id OR NEW.status IS NOT OLD.status BEGIN UPDATE person_status_count SET n = n - 1 WHERE enterprise_id = OLD.enterprise_id AND status = OLD.status; INSERT INTO person_status_count (enterprise_id, status, n) VALUES (NEW.enterprise_id, NEW.status, 1) ON CONFLICT (enterprise_id, status) DO UPDATE SET n = n + 1; END""",
)
TRIGGER_NAMES = ("person_status_count_insert", "person_status_count_update", "person_status_count_delete")

# revision identifiers, used by Alembic.
revision = '0002_counters_status_count'
down_revision = '0001_initial_schema'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('person_status_count',
    sa.Column('enterprise_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('enterprise_id', 'status', name=op.f('pk_person_status_count'))
    )
    with op.batch_alter_table('person_status_count', schema=None) as batch_op:
        batch_op.create_index('ix_person_status_count_status', ['status', 'enterprise_id', 'n'], unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)
    # Count the persons already there, once; the triggers keep the figures from now on.
    op.execute(
        "INSERT INTO person_status_count (enterprise_id, status, n) "
        "SELECT enterprise_id, status, count(*) FROM person GROUP BY enterprise_id, status"
    )


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON person" if postgres else f"DROP TRIGGER IF EXISTS {name}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS person_status_count_apply()")
    with op.batch_alter_table('person_status_count', schema=None) as batch_op:
        batch_op.drop_index('ix_person_status_count_status')
    op.drop_table('person_status_count')
