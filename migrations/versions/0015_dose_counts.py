"""dose_count: doses given per day, station, enterprise and kind, kept by triggers on vaccination

Revision ID: 0015_dose_counts
Revises: 0014_sms_delivery_queue
Create Date: 2026-12-01 23:00:00

The dashboards' per-dose figures (第1剂 / 第2剂 / 全程接种 / 加强, today and in total, per
station and department) read this table instead of counting the vaccination records.
The trigger DDL is frozen here as models/dose_counts.py generated it on this date; the
table is filled once from the records already there (migration 0008's dose-1 records).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_dose_counts'
down_revision = '0014_sms_delivery_queue'
branch_labels = None
depends_on = None

POSTGRESQL = ('CREATE OR REPLACE FUNCTION dose_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$\n'
 'BEGIN\n'
 "IF TG_OP = 'INSERT' THEN\n"
 'INSERT INTO dose_count AS c (day, station_id, enterprise_id, kind, n) SELECT day, station_id, enterprise_id, '
 'kind, sum(k) FROM (SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT '
 'e.enterprise_id FROM person e WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, 1 AS k FROM new_rows v '
 "CROSS JOIN LATERAL (VALUES (CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS "
 'VARCHAR(2)) END), (CASE WHEN NOT v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM '
 "vaccine_product p WHERE p.id = v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS "
 "NOT NULL AND v.outcome = 'given' AND v.state = 'valid') AS m GROUP BY day, station_id, enterprise_id, kind "
 'HAVING sum(k) <> 0 ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 "ELSIF TG_OP = 'DELETE' THEN\n"
 'INSERT INTO dose_count AS c (day, station_id, enterprise_id, kind, n) SELECT day, station_id, enterprise_id, '
 'kind, sum(k) FROM (SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT '
 'e.enterprise_id FROM person e WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, -1 AS k FROM old_rows v '
 "CROSS JOIN LATERAL (VALUES (CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS "
 'VARCHAR(2)) END), (CASE WHEN NOT v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM '
 "vaccine_product p WHERE p.id = v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS "
 "NOT NULL AND v.outcome = 'given' AND v.state = 'valid') AS m GROUP BY day, station_id, enterprise_id, kind "
 'HAVING sum(k) <> 0 ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'ELSE\n'
 'INSERT INTO dose_count AS c (day, station_id, enterprise_id, kind, n) SELECT day, station_id, enterprise_id, '
 'kind, sum(k) FROM (SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT '
 'e.enterprise_id FROM person e WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, -1 AS k FROM old_rows v '
 "CROSS JOIN LATERAL (VALUES (CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS "
 'VARCHAR(2)) END), (CASE WHEN NOT v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM '
 "vaccine_product p WHERE p.id = v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS "
 "NOT NULL AND v.outcome = 'given' AND v.state = 'valid' UNION ALL SELECT CAST(v.at AS DATE) AS day, "
 'COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = '
 'v.person_id), 0) AS enterprise_id, x.kind, 1 AS k FROM new_rows v CROSS JOIN LATERAL (VALUES (CASE WHEN '
 "v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT v.is_booster "
 'AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = v.product_id), '
 "v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = 'given' AND v.state = "
 "'valid') AS m GROUP BY day, station_id, enterprise_id, kind HAVING sum(k) <> 0 ON CONFLICT (day, station_id, "
 'enterprise_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'END IF;\n'
 'RETURN NULL;\n'
 'END\n'
 '$$',
 'CREATE TRIGGER dose_counts_insert AFTER INSERT ON vaccination REFERENCING NEW TABLE AS new_rows FOR EACH '
 'STATEMENT EXECUTE FUNCTION dose_counts_apply()',
 'CREATE TRIGGER dose_counts_update AFTER UPDATE ON vaccination REFERENCING OLD TABLE AS old_rows NEW TABLE AS '
 'new_rows FOR EACH STATEMENT EXECUTE FUNCTION dose_counts_apply()',
 'CREATE TRIGGER dose_counts_delete AFTER DELETE ON vaccination REFERENCING OLD TABLE AS old_rows FOR EACH '
 'STATEMENT EXECUTE FUNCTION dose_counts_apply()')

SQLITE = ('CREATE TRIGGER dose_count_insert AFTER INSERT ON vaccination BEGIN INSERT INTO dose_count (day, station_id, '
 'enterprise_id, kind, n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), COALESCE((SELECT e.enterprise_id FROM '
 "person e WHERE e.id = NEW.person_id), 0), CASE WHEN NEW.is_booster THEN 'booster' ELSE 'dose' || "
 "CAST(NEW.dose_number AS VARCHAR(2)) END, 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' ON CONFLICT (day, "
 'station_id, enterprise_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_count (day, station_id, '
 'enterprise_id, kind, n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), COALESCE((SELECT e.enterprise_id FROM '
 "person e WHERE e.id = NEW.person_id), 0), 'complete', 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' AND "
 'NOT NEW.is_booster AND NEW.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 'NEW.product_id), NEW.dose_number) ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = n + (1); '
 'END',
 'CREATE TRIGGER dose_count_update AFTER UPDATE OF state, outcome ON vaccination WHEN NEW.state IS NOT OLD.state '
 'OR NEW.outcome IS NOT OLD.outcome BEGIN INSERT INTO dose_count (day, station_id, enterprise_id, kind, n) SELECT '
 'date(OLD.at), COALESCE(OLD.station_id, 0), COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = '
 "OLD.person_id), 0), CASE WHEN OLD.is_booster THEN 'booster' ELSE 'dose' || CAST(OLD.dose_number AS VARCHAR(2)) "
 "END, -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' ON CONFLICT (day, station_id, enterprise_id, kind) "
 'DO UPDATE SET n = n + (-1); INSERT INTO dose_count (day, station_id, enterprise_id, kind, n) SELECT '
 'date(OLD.at), COALESCE(OLD.station_id, 0), COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = '
 "OLD.person_id), 0), 'complete', -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' AND NOT OLD.is_booster "
 'AND OLD.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = OLD.product_id), '
 'OLD.dose_number) ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO '
 'dose_count (day, station_id, enterprise_id, kind, n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), '
 'COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = NEW.person_id), 0), CASE WHEN NEW.is_booster THEN '
 "'booster' ELSE 'dose' || CAST(NEW.dose_number AS VARCHAR(2)) END, 1 WHERE NEW.outcome = 'given' AND NEW.state = "
 "'valid' ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_count "
 '(day, station_id, enterprise_id, kind, n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), COALESCE((SELECT '
 "e.enterprise_id FROM person e WHERE e.id = NEW.person_id), 0), 'complete', 1 WHERE NEW.outcome = 'given' AND "
 "NEW.state = 'valid' AND NOT NEW.is_booster AND NEW.dose_number >= COALESCE((SELECT p.primary_doses FROM "
 'vaccine_product p WHERE p.id = NEW.product_id), NEW.dose_number) ON CONFLICT (day, station_id, enterprise_id, '
 'kind) DO UPDATE SET n = n + (1); END',
 'CREATE TRIGGER dose_count_delete AFTER DELETE ON vaccination BEGIN INSERT INTO dose_count (day, station_id, '
 'enterprise_id, kind, n) SELECT date(OLD.at), COALESCE(OLD.station_id, 0), COALESCE((SELECT e.enterprise_id FROM '
 "person e WHERE e.id = OLD.person_id), 0), CASE WHEN OLD.is_booster THEN 'booster' ELSE 'dose' || "
 "CAST(OLD.dose_number AS VARCHAR(2)) END, -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' ON CONFLICT "
 '(day, station_id, enterprise_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO dose_count (day, station_id, '
 'enterprise_id, kind, n) SELECT date(OLD.at), COALESCE(OLD.station_id, 0), COALESCE((SELECT e.enterprise_id FROM '
 "person e WHERE e.id = OLD.person_id), 0), 'complete', -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' AND "
 'NOT OLD.is_booster AND OLD.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 'OLD.product_id), OLD.dose_number) ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = n + (-1); '
 'END')

BACKFILL = (
    "INSERT INTO dose_count (day, station_id, enterprise_id, kind, n) "
    "SELECT day, station_id, enterprise_id, kind, COUNT(*) FROM ("
    " SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE(p.enterprise_id, 0) "
    " AS enterprise_id, CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END "
    " AS kind FROM vaccination v LEFT JOIN person p ON p.id = v.person_id "
    " WHERE v.outcome = 'given' AND v.state = 'valid' "
    " UNION ALL "
    " SELECT CAST(v.at AS DATE), COALESCE(v.station_id, 0), COALESCE(p.enterprise_id, 0), 'complete' "
    " FROM vaccination v LEFT JOIN person p ON p.id = v.person_id "
    " WHERE v.outcome = 'given' AND v.state = 'valid' AND NOT v.is_booster AND v.dose_number >= "
    " COALESCE((SELECT vp.primary_doses FROM vaccine_product vp WHERE vp.id = v.product_id), v.dose_number)"
    ") AS doses GROUP BY day, station_id, enterprise_id, kind"
)
TRIGGERS = {
    'postgresql': ('dose_counts_insert', 'dose_counts_update', 'dose_counts_delete'),
    'sqlite': ('dose_count_insert', 'dose_count_update', 'dose_count_delete'),
}


def upgrade():
    op.create_table(
        'dose_count',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('station_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('enterprise_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'station_id', 'enterprise_id', 'kind', name=op.f('pk_dose_count')),
    )
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        # SQLite's date() of a timestamp, as the row triggers write it.
        op.execute(BACKFILL.replace('CAST(v.at AS DATE)', 'date(v.at)'))
    else:
        op.execute(BACKFILL)
    for statement in (POSTGRESQL if dialect == 'postgresql' else SQLITE):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        for name in TRIGGERS['postgresql']:
            op.execute(f'DROP TRIGGER IF EXISTS {name} ON vaccination')
        op.execute('DROP FUNCTION IF EXISTS dose_counts_apply()')
    else:
        for name in TRIGGERS['sqlite']:
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.drop_table('dose_count')
