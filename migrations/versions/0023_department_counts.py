"""department_status_count: persons per review department and status, kept by triggers

Revision ID: 0023_department_counts
Revises: 0022_person_exit_claim
Create Date: 2026-12-04 18:30:00

The center's tree and tabs read a row per department and status instead of summing the
enterprise counters joined to their enterprises on every page. Triggers on
person_status_count pass each change of an enterprise's count on to its department;
a trigger on enterprise moves an enterprise's counts when it changes department. The
trigger DDL is frozen here as models/department_counts.py generated it on this date; the
table is filled once from the persons already there.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023_department_counts'
down_revision = '0022_person_exit_claim'
branch_labels = None
depends_on = None

POSTGRESQL = ('CREATE OR REPLACE FUNCTION department_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$\n'
 'BEGIN\n'
 "IF TG_OP = 'INSERT' THEN\n"
 'IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;\n'
 'PERFORM 1 FROM department_status_count c JOIN (SELECT department_id, status, sum(k) AS k FROM (SELECT '
 'e.department_id, r.status, 1 * r.n AS k FROM new_rows r JOIN enterprise e ON e.id = r.enterprise_id) AS m GROUP BY '
 'department_id, status HAVING sum(k) <> 0) d ON c.department_id = d.department_id AND c.status = d.status ORDER BY '
 'c.department_id, c.status FOR UPDATE OF c;\n'
 'UPDATE department_status_count c SET n = c.n + d.k FROM (SELECT department_id, status, sum(k) AS k FROM (SELECT '
 'e.department_id, r.status, 1 * r.n AS k FROM new_rows r JOIN enterprise e ON e.id = r.enterprise_id) AS m GROUP BY '
 'department_id, status HAVING sum(k) <> 0) d WHERE d.k < 0 AND c.department_id = d.department_id AND c.status = '
 'd.status;\n'
 'INSERT INTO department_status_count AS c (department_id, status, n) SELECT department_id, status, k FROM (SELECT '
 'department_id, status, sum(k) AS k FROM (SELECT e.department_id, r.status, 1 * r.n AS k FROM new_rows r JOIN '
 'enterprise e ON e.id = r.enterprise_id) AS m GROUP BY department_id, status HAVING sum(k) <> 0) d WHERE k > 0 '
 'ORDER BY department_id, status ON CONFLICT (department_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 "ELSIF TG_OP = 'DELETE' THEN\n"
 'IF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;\n'
 'PERFORM 1 FROM department_status_count c JOIN (SELECT department_id, status, sum(k) AS k FROM (SELECT '
 'e.department_id, r.status, -1 * r.n AS k FROM old_rows r JOIN enterprise e ON e.id = r.enterprise_id) AS m GROUP '
 'BY department_id, status HAVING sum(k) <> 0) d ON c.department_id = d.department_id AND c.status = d.status ORDER '
 'BY c.department_id, c.status FOR UPDATE OF c;\n'
 'UPDATE department_status_count c SET n = c.n + d.k FROM (SELECT department_id, status, sum(k) AS k FROM (SELECT '
 'e.department_id, r.status, -1 * r.n AS k FROM old_rows r JOIN enterprise e ON e.id = r.enterprise_id) AS m GROUP '
 'BY department_id, status HAVING sum(k) <> 0) d WHERE d.k < 0 AND c.department_id = d.department_id AND c.status = '
 'd.status;\n'
 'INSERT INTO department_status_count AS c (department_id, status, n) SELECT department_id, status, k FROM (SELECT '
 'department_id, status, sum(k) AS k FROM (SELECT e.department_id, r.status, -1 * r.n AS k FROM old_rows r JOIN '
 'enterprise e ON e.id = r.enterprise_id) AS m GROUP BY department_id, status HAVING sum(k) <> 0) d WHERE k > 0 '
 'ORDER BY department_id, status ON CONFLICT (department_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'ELSE\n'
 'IF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;\n'
 'PERFORM 1 FROM department_status_count c JOIN (SELECT department_id, status, sum(k) AS k FROM (SELECT '
 'e.department_id, r.status, -1 * r.n AS k FROM old_rows r JOIN enterprise e ON e.id = r.enterprise_id UNION ALL '
 'SELECT e.department_id, r.status, 1 * r.n AS k FROM new_rows r JOIN enterprise e ON e.id = r.enterprise_id) AS m '
 'GROUP BY department_id, status HAVING sum(k) <> 0) d ON c.department_id = d.department_id AND c.status = d.status '
 'ORDER BY c.department_id, c.status FOR UPDATE OF c;\n'
 'UPDATE department_status_count c SET n = c.n + d.k FROM (SELECT department_id, status, sum(k) AS k FROM (SELECT '
 'e.department_id, r.status, -1 * r.n AS k FROM old_rows r JOIN enterprise e ON e.id = r.enterprise_id UNION ALL '
 'SELECT e.department_id, r.status, 1 * r.n AS k FROM new_rows r JOIN enterprise e ON e.id = r.enterprise_id) AS m '
 'GROUP BY department_id, status HAVING sum(k) <> 0) d WHERE d.k < 0 AND c.department_id = d.department_id AND '
 'c.status = d.status;\n'
 'INSERT INTO department_status_count AS c (department_id, status, n) SELECT department_id, status, k FROM (SELECT '
 'department_id, status, sum(k) AS k FROM (SELECT e.department_id, r.status, -1 * r.n AS k FROM old_rows r JOIN '
 'enterprise e ON e.id = r.enterprise_id UNION ALL SELECT e.department_id, r.status, 1 * r.n AS k FROM new_rows r '
 'JOIN enterprise e ON e.id = r.enterprise_id) AS m GROUP BY department_id, status HAVING sum(k) <> 0) d WHERE k > 0 '
 'ORDER BY department_id, status ON CONFLICT (department_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'END IF;\n'
 'RETURN NULL;\n'
 'END\n'
 '$$',
 'CREATE OR REPLACE FUNCTION department_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$\n'
 'BEGIN\n'
 'PERFORM 1 FROM department_status_count c JOIN (SELECT department_id, status, sum(k) AS k FROM (SELECT '
 'o.department_id, c.status, -1 * c.n AS k FROM old_rows o JOIN new_rows w ON w.id = o.id JOIN person_status_count c '
 'ON c.enterprise_id = o.id WHERE w.department_id <> o.department_id UNION ALL SELECT w.department_id, c.status, 1 * '
 'c.n AS k FROM old_rows o JOIN new_rows w ON w.id = o.id JOIN person_status_count c ON c.enterprise_id = o.id WHERE '
 'w.department_id <> o.department_id) AS m GROUP BY department_id, status HAVING sum(k) <> 0) d ON c.department_id = '
 'd.department_id AND c.status = d.status ORDER BY c.department_id, c.status FOR UPDATE OF c;\n'
 'UPDATE department_status_count c SET n = c.n + d.k FROM (SELECT department_id, status, sum(k) AS k FROM (SELECT '
 'o.department_id, c.status, -1 * c.n AS k FROM old_rows o JOIN new_rows w ON w.id = o.id JOIN person_status_count c '
 'ON c.enterprise_id = o.id WHERE w.department_id <> o.department_id UNION ALL SELECT w.department_id, c.status, 1 * '
 'c.n AS k FROM old_rows o JOIN new_rows w ON w.id = o.id JOIN person_status_count c ON c.enterprise_id = o.id WHERE '
 'w.department_id <> o.department_id) AS m GROUP BY department_id, status HAVING sum(k) <> 0) d WHERE d.k < 0 AND '
 'c.department_id = d.department_id AND c.status = d.status;\n'
 'INSERT INTO department_status_count AS c (department_id, status, n) SELECT department_id, status, k FROM (SELECT '
 'department_id, status, sum(k) AS k FROM (SELECT o.department_id, c.status, -1 * c.n AS k FROM old_rows o JOIN '
 'new_rows w ON w.id = o.id JOIN person_status_count c ON c.enterprise_id = o.id WHERE w.department_id <> '
 'o.department_id UNION ALL SELECT w.department_id, c.status, 1 * c.n AS k FROM old_rows o JOIN new_rows w ON w.id = '
 'o.id JOIN person_status_count c ON c.enterprise_id = o.id WHERE w.department_id <> o.department_id) AS m GROUP BY '
 'department_id, status HAVING sum(k) <> 0) d WHERE k > 0 ORDER BY department_id, status ON CONFLICT (department_id, '
 'status) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'RETURN NULL;\n'
 'END\n'
 '$$',
 'CREATE TRIGGER department_counts_insert AFTER INSERT ON person_status_count REFERENCING NEW TABLE AS new_rows FOR '
 'EACH STATEMENT EXECUTE FUNCTION department_counts_apply()',
 'CREATE TRIGGER department_counts_update AFTER UPDATE ON person_status_count REFERENCING OLD TABLE AS old_rows NEW '
 'TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION department_counts_apply()',
 'CREATE TRIGGER department_counts_delete AFTER DELETE ON person_status_count REFERENCING OLD TABLE AS old_rows FOR '
 'EACH STATEMENT EXECUTE FUNCTION department_counts_apply()',
 'CREATE TRIGGER department_counts_enterprise_moved AFTER UPDATE ON enterprise REFERENCING OLD TABLE AS old_rows NEW '
 'TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION department_counts_move()')

SQLITE = ('CREATE TRIGGER department_count_insert AFTER INSERT ON person_status_count WHEN NEW.n <> 0 BEGIN INSERT INTO '
 'department_status_count (department_id, status, n) SELECT (SELECT department_id FROM enterprise WHERE id = '
 'NEW.enterprise_id), NEW.status, NEW.n WHERE (SELECT department_id FROM enterprise WHERE id = NEW.enterprise_id) IS '
 'NOT NULL ON CONFLICT (department_id, status) DO UPDATE SET n = n + excluded.n; END',
 'CREATE TRIGGER department_count_update AFTER UPDATE OF enterprise_id, status, n ON person_status_count WHEN NEW.n '
 'IS NOT OLD.n OR NEW.enterprise_id IS NOT OLD.enterprise_id OR NEW.status IS NOT OLD.status BEGIN UPDATE '
 'department_status_count SET n = n - (OLD.n) WHERE department_id = (SELECT department_id FROM enterprise WHERE id = '
 'OLD.enterprise_id) AND status = OLD.status; INSERT INTO department_status_count (department_id, status, n) SELECT '
 '(SELECT department_id FROM enterprise WHERE id = NEW.enterprise_id), NEW.status, NEW.n WHERE (SELECT department_id '
 'FROM enterprise WHERE id = NEW.enterprise_id) IS NOT NULL AND NEW.n <> 0 ON CONFLICT (department_id, status) DO '
 'UPDATE SET n = n + excluded.n; END',
 'CREATE TRIGGER department_count_delete AFTER DELETE ON person_status_count WHEN OLD.n <> 0 BEGIN UPDATE '
 'department_status_count SET n = n - (OLD.n) WHERE department_id = (SELECT department_id FROM enterprise WHERE id = '
 'OLD.enterprise_id) AND status = OLD.status; END',
 'CREATE TRIGGER department_count_enterprise_moved AFTER UPDATE OF department_id ON enterprise WHEN '
 'NEW.department_id IS NOT OLD.department_id BEGIN UPDATE department_status_count SET n = n - (SELECT c.n FROM '
 'person_status_count c WHERE c.enterprise_id = NEW.id AND c.status = department_status_count.status) WHERE '
 'department_id = OLD.department_id AND status IN (SELECT status FROM person_status_count WHERE enterprise_id = '
 'NEW.id); INSERT INTO department_status_count (department_id, status, n) SELECT NEW.department_id, status, n FROM '
 'person_status_count WHERE enterprise_id = NEW.id AND n <> 0 ON CONFLICT (department_id, status) DO UPDATE SET n = '
 'n + excluded.n; END')

BACKFILL = (
    "INSERT INTO department_status_count (department_id, status, n) "
    "SELECT e.department_id, p.status, COUNT(*) FROM person p JOIN enterprise e ON e.id = p.enterprise_id "
    "GROUP BY e.department_id, p.status"
)
TRIGGERS = {
    'postgresql': (('department_counts_insert', 'person_status_count'),
                   ('department_counts_update', 'person_status_count'),
                   ('department_counts_delete', 'person_status_count'),
                   ('department_counts_enterprise_moved', 'enterprise')),
    'sqlite': ('department_count_insert', 'department_count_update', 'department_count_delete',
               'department_count_enterprise_moved'),
}


def upgrade():
    op.create_table(
        'department_status_count',
        sa.Column('department_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('department_id', 'status', name=op.f('pk_department_status_count')),
    )
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        # Room on every page, so that changing n rewrites the row in place (HOT update), as 0004 does.
        op.execute('ALTER TABLE department_status_count SET (fillfactor = 70)')
    op.execute(BACKFILL)
    for statement in (POSTGRESQL if dialect == 'postgresql' else SQLITE):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        for name, table in TRIGGERS['postgresql']:
            op.execute(f'DROP TRIGGER IF EXISTS {name} ON {table}')
        op.execute('DROP FUNCTION IF EXISTS department_counts_apply()')
        op.execute('DROP FUNCTION IF EXISTS department_counts_move()')
    else:
        for name in TRIGGERS['sqlite']:
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.drop_table('department_status_count')
