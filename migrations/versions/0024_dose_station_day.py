"""dose_station_day: doses given per day, station and kind, kept by the dose triggers

Revision ID: 0024_dose_station_day
Revises: 0023_department_counts
Create Date: 2026-12-04 19:30:00

The dashboards' 今日 figures of the district and the stations and the fortnight's chart read
this table instead of summing dose_count, whose rows are per enterprise too (a hundred
thousand a day at district scale). The triggers of migration 0018 are replaced by ones that
keep all four tables; their DDL is frozen here as models/dose_counts.py generated it on this
date. The table is filled once from dose_count.
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024_dose_station_day'
down_revision = '0023_department_counts'
branch_labels = None
depends_on = None

POSTGRESQL = ('CREATE OR REPLACE FUNCTION dose_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$\n'
 'BEGIN\n'
 "IF TG_OP = 'INSERT' THEN\n"
 'INSERT INTO dose_count AS c (day, station_id, enterprise_id, kind, n) SELECT day, station_id, enterprise_id, kind, '
 'sum(k) FROM (SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT '
 'e.enterprise_id FROM person e WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, 1 AS k FROM new_rows v CROSS '
 "JOIN LATERAL (VALUES (CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), "
 '(CASE WHEN NOT v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE '
 "p.id = v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = "
 "'given' AND v.state = 'valid') AS m GROUP BY day, station_id, enterprise_id, kind HAVING sum(k) <> 0 ORDER BY day, "
 'station_id, enterprise_id, kind ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = c.n + '
 'EXCLUDED.n;\n'
 'INSERT INTO dose_station_day AS c (day, station_id, kind, n) SELECT day, station_id, kind, sum(k) FROM (SELECT '
 'CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT e.enterprise_id FROM person e '
 'WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, 1 AS k FROM new_rows v CROSS JOIN LATERAL (VALUES (CASE '
 "WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT "
 'v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 "v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = 'given' "
 "AND v.state = 'valid') AS m GROUP BY day, station_id, kind HAVING sum(k) <> 0 ORDER BY day, station_id, kind ON "
 'CONFLICT (day, station_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'INSERT INTO dose_station_total AS c (station_id, kind, n) SELECT station_id, kind, sum(k) FROM (SELECT CAST(v.at '
 'AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT e.enterprise_id FROM person e WHERE '
 'e.id = v.person_id), 0) AS enterprise_id, x.kind, 1 AS k FROM new_rows v CROSS JOIN LATERAL (VALUES (CASE WHEN '
 "v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT v.is_booster AND "
 'v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = v.product_id), '
 "v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = 'given' AND v.state = "
 "'valid') AS m GROUP BY station_id, kind HAVING sum(k) <> 0 ORDER BY station_id, kind ON CONFLICT (station_id, "
 'kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'INSERT INTO dose_enterprise_total AS c (enterprise_id, kind, n) SELECT enterprise_id, kind, sum(k) FROM (SELECT '
 'CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT e.enterprise_id FROM person e '
 'WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, 1 AS k FROM new_rows v CROSS JOIN LATERAL (VALUES (CASE '
 "WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT "
 'v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 "v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = 'given' "
 "AND v.state = 'valid') AS m GROUP BY enterprise_id, kind HAVING sum(k) <> 0 ORDER BY enterprise_id, kind ON "
 'CONFLICT (enterprise_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 "ELSIF TG_OP = 'DELETE' THEN\n"
 'INSERT INTO dose_count AS c (day, station_id, enterprise_id, kind, n) SELECT day, station_id, enterprise_id, kind, '
 'sum(k) FROM (SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT '
 'e.enterprise_id FROM person e WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, -1 AS k FROM old_rows v '
 "CROSS JOIN LATERAL (VALUES (CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) "
 'END), (CASE WHEN NOT v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p '
 "WHERE p.id = v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome "
 "= 'given' AND v.state = 'valid') AS m GROUP BY day, station_id, enterprise_id, kind HAVING sum(k) <> 0 ORDER BY "
 'day, station_id, enterprise_id, kind ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = c.n + '
 'EXCLUDED.n;\n'
 'INSERT INTO dose_station_day AS c (day, station_id, kind, n) SELECT day, station_id, kind, sum(k) FROM (SELECT '
 'CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT e.enterprise_id FROM person e '
 'WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, -1 AS k FROM old_rows v CROSS JOIN LATERAL (VALUES (CASE '
 "WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT "
 'v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 "v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = 'given' "
 "AND v.state = 'valid') AS m GROUP BY day, station_id, kind HAVING sum(k) <> 0 ORDER BY day, station_id, kind ON "
 'CONFLICT (day, station_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'INSERT INTO dose_station_total AS c (station_id, kind, n) SELECT station_id, kind, sum(k) FROM (SELECT CAST(v.at '
 'AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT e.enterprise_id FROM person e WHERE '
 'e.id = v.person_id), 0) AS enterprise_id, x.kind, -1 AS k FROM old_rows v CROSS JOIN LATERAL (VALUES (CASE WHEN '
 "v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT v.is_booster AND "
 'v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = v.product_id), '
 "v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = 'given' AND v.state = "
 "'valid') AS m GROUP BY station_id, kind HAVING sum(k) <> 0 ORDER BY station_id, kind ON CONFLICT (station_id, "
 'kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'INSERT INTO dose_enterprise_total AS c (enterprise_id, kind, n) SELECT enterprise_id, kind, sum(k) FROM (SELECT '
 'CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT e.enterprise_id FROM person e '
 'WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, -1 AS k FROM old_rows v CROSS JOIN LATERAL (VALUES (CASE '
 "WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT "
 'v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 "v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = 'given' "
 "AND v.state = 'valid') AS m GROUP BY enterprise_id, kind HAVING sum(k) <> 0 ORDER BY enterprise_id, kind ON "
 'CONFLICT (enterprise_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'ELSE\n'
 'INSERT INTO dose_count AS c (day, station_id, enterprise_id, kind, n) SELECT day, station_id, enterprise_id, kind, '
 'sum(k) FROM (SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT '
 'e.enterprise_id FROM person e WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, -1 AS k FROM old_rows v '
 "CROSS JOIN LATERAL (VALUES (CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) "
 'END), (CASE WHEN NOT v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p '
 "WHERE p.id = v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome "
 "= 'given' AND v.state = 'valid' UNION ALL SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS "
 'station_id, COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, '
 "1 AS k FROM new_rows v CROSS JOIN LATERAL (VALUES (CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || "
 'CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT v.is_booster AND v.dose_number >= COALESCE((SELECT '
 "p.primary_doses FROM vaccine_product p WHERE p.id = v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) "
 "WHERE x.kind IS NOT NULL AND v.outcome = 'given' AND v.state = 'valid') AS m GROUP BY day, station_id, "
 'enterprise_id, kind HAVING sum(k) <> 0 ORDER BY day, station_id, enterprise_id, kind ON CONFLICT (day, station_id, '
 'enterprise_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'INSERT INTO dose_station_day AS c (day, station_id, kind, n) SELECT day, station_id, kind, sum(k) FROM (SELECT '
 'CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT e.enterprise_id FROM person e '
 'WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, -1 AS k FROM old_rows v CROSS JOIN LATERAL (VALUES (CASE '
 "WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT "
 'v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 "v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = 'given' "
 "AND v.state = 'valid' UNION ALL SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, "
 'COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, 1 AS k FROM '
 "new_rows v CROSS JOIN LATERAL (VALUES (CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS "
 'VARCHAR(2)) END), (CASE WHEN NOT v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM '
 "vaccine_product p WHERE p.id = v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT "
 "NULL AND v.outcome = 'given' AND v.state = 'valid') AS m GROUP BY day, station_id, kind HAVING sum(k) <> 0 ORDER "
 'BY day, station_id, kind ON CONFLICT (day, station_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'INSERT INTO dose_station_total AS c (station_id, kind, n) SELECT station_id, kind, sum(k) FROM (SELECT CAST(v.at '
 'AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT e.enterprise_id FROM person e WHERE '
 'e.id = v.person_id), 0) AS enterprise_id, x.kind, -1 AS k FROM old_rows v CROSS JOIN LATERAL (VALUES (CASE WHEN '
 "v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT v.is_booster AND "
 'v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = v.product_id), '
 "v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = 'given' AND v.state = "
 "'valid' UNION ALL SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT "
 'e.enterprise_id FROM person e WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, 1 AS k FROM new_rows v CROSS '
 "JOIN LATERAL (VALUES (CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), "
 '(CASE WHEN NOT v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE '
 "p.id = v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = "
 "'given' AND v.state = 'valid') AS m GROUP BY station_id, kind HAVING sum(k) <> 0 ORDER BY station_id, kind ON "
 'CONFLICT (station_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'INSERT INTO dose_enterprise_total AS c (enterprise_id, kind, n) SELECT enterprise_id, kind, sum(k) FROM (SELECT '
 'CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE((SELECT e.enterprise_id FROM person e '
 'WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, -1 AS k FROM old_rows v CROSS JOIN LATERAL (VALUES (CASE '
 "WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END), (CASE WHEN NOT "
 'v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 "v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT NULL AND v.outcome = 'given' "
 "AND v.state = 'valid' UNION ALL SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, "
 'COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = v.person_id), 0) AS enterprise_id, x.kind, 1 AS k FROM '
 "new_rows v CROSS JOIN LATERAL (VALUES (CASE WHEN v.is_booster THEN 'booster' ELSE 'dose' || CAST(v.dose_number AS "
 'VARCHAR(2)) END), (CASE WHEN NOT v.is_booster AND v.dose_number >= COALESCE((SELECT p.primary_doses FROM '
 "vaccine_product p WHERE p.id = v.product_id), v.dose_number) THEN 'complete' END)) AS x(kind) WHERE x.kind IS NOT "
 "NULL AND v.outcome = 'given' AND v.state = 'valid') AS m GROUP BY enterprise_id, kind HAVING sum(k) <> 0 ORDER BY "
 'enterprise_id, kind ON CONFLICT (enterprise_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;\n'
 'END IF;\n'
 'RETURN NULL;\n'
 'END\n'
 '$$',
 'CREATE TRIGGER dose_counts_insert AFTER INSERT ON vaccination REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
 'EXECUTE FUNCTION dose_counts_apply()',
 'CREATE TRIGGER dose_counts_update AFTER UPDATE ON vaccination REFERENCING OLD TABLE AS old_rows NEW TABLE AS '
 'new_rows FOR EACH STATEMENT EXECUTE FUNCTION dose_counts_apply()',
 'CREATE TRIGGER dose_counts_delete AFTER DELETE ON vaccination REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
 'EXECUTE FUNCTION dose_counts_apply()')

SQLITE = ('CREATE TRIGGER dose_count_insert AFTER INSERT ON vaccination BEGIN INSERT INTO dose_count (day, station_id, '
 'enterprise_id, kind, n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), COALESCE((SELECT e.enterprise_id FROM '
 "person e WHERE e.id = NEW.person_id), 0), CASE WHEN NEW.is_booster THEN 'booster' ELSE 'dose' || "
 "CAST(NEW.dose_number AS VARCHAR(2)) END, 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' ON CONFLICT (day, "
 'station_id, enterprise_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_station_day (day, station_id, kind, '
 "n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), CASE WHEN NEW.is_booster THEN 'booster' ELSE 'dose' || "
 "CAST(NEW.dose_number AS VARCHAR(2)) END, 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' ON CONFLICT (day, "
 'station_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_station_total (station_id, kind, n) SELECT '
 "COALESCE(NEW.station_id, 0), CASE WHEN NEW.is_booster THEN 'booster' ELSE 'dose' || CAST(NEW.dose_number AS "
 "VARCHAR(2)) END, 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' ON CONFLICT (station_id, kind) DO UPDATE "
 'SET n = n + (1); INSERT INTO dose_enterprise_total (enterprise_id, kind, n) SELECT COALESCE((SELECT '
 "e.enterprise_id FROM person e WHERE e.id = NEW.person_id), 0), CASE WHEN NEW.is_booster THEN 'booster' ELSE 'dose' "
 "|| CAST(NEW.dose_number AS VARCHAR(2)) END, 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' ON CONFLICT "
 '(enterprise_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_count (day, station_id, enterprise_id, kind, n) '
 'SELECT date(NEW.at), COALESCE(NEW.station_id, 0), COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = '
 "NEW.person_id), 0), 'complete', 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' AND NOT NEW.is_booster AND "
 'NEW.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = NEW.product_id), '
 'NEW.dose_number) ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = n + (1); INSERT INTO '
 "dose_station_day (day, station_id, kind, n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), 'complete', 1 WHERE "
 "NEW.outcome = 'given' AND NEW.state = 'valid' AND NOT NEW.is_booster AND NEW.dose_number >= COALESCE((SELECT "
 'p.primary_doses FROM vaccine_product p WHERE p.id = NEW.product_id), NEW.dose_number) ON CONFLICT (day, '
 'station_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_station_total (station_id, kind, n) SELECT '
 "COALESCE(NEW.station_id, 0), 'complete', 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' AND NOT "
 'NEW.is_booster AND NEW.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 'NEW.product_id), NEW.dose_number) ON CONFLICT (station_id, kind) DO UPDATE SET n = n + (1); INSERT INTO '
 'dose_enterprise_total (enterprise_id, kind, n) SELECT COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = '
 "NEW.person_id), 0), 'complete', 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' AND NOT NEW.is_booster AND "
 'NEW.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = NEW.product_id), '
 'NEW.dose_number) ON CONFLICT (enterprise_id, kind) DO UPDATE SET n = n + (1); END',
 'CREATE TRIGGER dose_count_update AFTER UPDATE OF state, outcome, at, station_id, person_id, dose_number, '
 'is_booster, product_id ON vaccination WHEN NEW.state IS NOT OLD.state OR NEW.outcome IS NOT OLD.outcome OR NEW.at '
 'IS NOT OLD.at OR NEW.station_id IS NOT OLD.station_id OR NEW.person_id IS NOT OLD.person_id OR NEW.dose_number IS '
 'NOT OLD.dose_number OR NEW.is_booster IS NOT OLD.is_booster OR NEW.product_id IS NOT OLD.product_id BEGIN INSERT '
 'INTO dose_count (day, station_id, enterprise_id, kind, n) SELECT date(OLD.at), COALESCE(OLD.station_id, 0), '
 'COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = OLD.person_id), 0), CASE WHEN OLD.is_booster THEN '
 "'booster' ELSE 'dose' || CAST(OLD.dose_number AS VARCHAR(2)) END, -1 WHERE OLD.outcome = 'given' AND OLD.state = "
 "'valid' ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO "
 'dose_station_day (day, station_id, kind, n) SELECT date(OLD.at), COALESCE(OLD.station_id, 0), CASE WHEN '
 "OLD.is_booster THEN 'booster' ELSE 'dose' || CAST(OLD.dose_number AS VARCHAR(2)) END, -1 WHERE OLD.outcome = "
 "'given' AND OLD.state = 'valid' ON CONFLICT (day, station_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO "
 'dose_station_total (station_id, kind, n) SELECT COALESCE(OLD.station_id, 0), CASE WHEN OLD.is_booster THEN '
 "'booster' ELSE 'dose' || CAST(OLD.dose_number AS VARCHAR(2)) END, -1 WHERE OLD.outcome = 'given' AND OLD.state = "
 "'valid' ON CONFLICT (station_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO dose_enterprise_total "
 '(enterprise_id, kind, n) SELECT COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = OLD.person_id), 0), '
 "CASE WHEN OLD.is_booster THEN 'booster' ELSE 'dose' || CAST(OLD.dose_number AS VARCHAR(2)) END, -1 WHERE "
 "OLD.outcome = 'given' AND OLD.state = 'valid' ON CONFLICT (enterprise_id, kind) DO UPDATE SET n = n + (-1); INSERT "
 'INTO dose_count (day, station_id, enterprise_id, kind, n) SELECT date(OLD.at), COALESCE(OLD.station_id, 0), '
 "COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = OLD.person_id), 0), 'complete', -1 WHERE OLD.outcome = "
 "'given' AND OLD.state = 'valid' AND NOT OLD.is_booster AND OLD.dose_number >= COALESCE((SELECT p.primary_doses "
 'FROM vaccine_product p WHERE p.id = OLD.product_id), OLD.dose_number) ON CONFLICT (day, station_id, enterprise_id, '
 'kind) DO UPDATE SET n = n + (-1); INSERT INTO dose_station_day (day, station_id, kind, n) SELECT date(OLD.at), '
 "COALESCE(OLD.station_id, 0), 'complete', -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' AND NOT "
 'OLD.is_booster AND OLD.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 'OLD.product_id), OLD.dose_number) ON CONFLICT (day, station_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO '
 "dose_station_total (station_id, kind, n) SELECT COALESCE(OLD.station_id, 0), 'complete', -1 WHERE OLD.outcome = "
 "'given' AND OLD.state = 'valid' AND NOT OLD.is_booster AND OLD.dose_number >= COALESCE((SELECT p.primary_doses "
 'FROM vaccine_product p WHERE p.id = OLD.product_id), OLD.dose_number) ON CONFLICT (station_id, kind) DO UPDATE SET '
 'n = n + (-1); INSERT INTO dose_enterprise_total (enterprise_id, kind, n) SELECT COALESCE((SELECT e.enterprise_id '
 "FROM person e WHERE e.id = OLD.person_id), 0), 'complete', -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' "
 'AND NOT OLD.is_booster AND OLD.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 'OLD.product_id), OLD.dose_number) ON CONFLICT (enterprise_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO '
 'dose_count (day, station_id, enterprise_id, kind, n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), '
 'COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = NEW.person_id), 0), CASE WHEN NEW.is_booster THEN '
 "'booster' ELSE 'dose' || CAST(NEW.dose_number AS VARCHAR(2)) END, 1 WHERE NEW.outcome = 'given' AND NEW.state = "
 "'valid' ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_station_day "
 '(day, station_id, kind, n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), CASE WHEN NEW.is_booster THEN '
 "'booster' ELSE 'dose' || CAST(NEW.dose_number AS VARCHAR(2)) END, 1 WHERE NEW.outcome = 'given' AND NEW.state = "
 "'valid' ON CONFLICT (day, station_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_station_total (station_id, "
 "kind, n) SELECT COALESCE(NEW.station_id, 0), CASE WHEN NEW.is_booster THEN 'booster' ELSE 'dose' || "
 "CAST(NEW.dose_number AS VARCHAR(2)) END, 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' ON CONFLICT "
 '(station_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_enterprise_total (enterprise_id, kind, n) SELECT '
 'COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = NEW.person_id), 0), CASE WHEN NEW.is_booster THEN '
 "'booster' ELSE 'dose' || CAST(NEW.dose_number AS VARCHAR(2)) END, 1 WHERE NEW.outcome = 'given' AND NEW.state = "
 "'valid' ON CONFLICT (enterprise_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_count (day, station_id, "
 'enterprise_id, kind, n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), COALESCE((SELECT e.enterprise_id FROM '
 "person e WHERE e.id = NEW.person_id), 0), 'complete', 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' AND "
 'NOT NEW.is_booster AND NEW.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 'NEW.product_id), NEW.dose_number) ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = n + (1); '
 'INSERT INTO dose_station_day (day, station_id, kind, n) SELECT date(NEW.at), COALESCE(NEW.station_id, 0), '
 "'complete', 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' AND NOT NEW.is_booster AND NEW.dose_number >= "
 'COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = NEW.product_id), NEW.dose_number) ON CONFLICT '
 '(day, station_id, kind) DO UPDATE SET n = n + (1); INSERT INTO dose_station_total (station_id, kind, n) SELECT '
 "COALESCE(NEW.station_id, 0), 'complete', 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' AND NOT "
 'NEW.is_booster AND NEW.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 'NEW.product_id), NEW.dose_number) ON CONFLICT (station_id, kind) DO UPDATE SET n = n + (1); INSERT INTO '
 'dose_enterprise_total (enterprise_id, kind, n) SELECT COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = '
 "NEW.person_id), 0), 'complete', 1 WHERE NEW.outcome = 'given' AND NEW.state = 'valid' AND NOT NEW.is_booster AND "
 'NEW.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = NEW.product_id), '
 'NEW.dose_number) ON CONFLICT (enterprise_id, kind) DO UPDATE SET n = n + (1); END',
 'CREATE TRIGGER dose_count_delete AFTER DELETE ON vaccination BEGIN INSERT INTO dose_count (day, station_id, '
 'enterprise_id, kind, n) SELECT date(OLD.at), COALESCE(OLD.station_id, 0), COALESCE((SELECT e.enterprise_id FROM '
 "person e WHERE e.id = OLD.person_id), 0), CASE WHEN OLD.is_booster THEN 'booster' ELSE 'dose' || "
 "CAST(OLD.dose_number AS VARCHAR(2)) END, -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' ON CONFLICT (day, "
 'station_id, enterprise_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO dose_station_day (day, station_id, kind, '
 "n) SELECT date(OLD.at), COALESCE(OLD.station_id, 0), CASE WHEN OLD.is_booster THEN 'booster' ELSE 'dose' || "
 "CAST(OLD.dose_number AS VARCHAR(2)) END, -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' ON CONFLICT (day, "
 'station_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO dose_station_total (station_id, kind, n) SELECT '
 "COALESCE(OLD.station_id, 0), CASE WHEN OLD.is_booster THEN 'booster' ELSE 'dose' || CAST(OLD.dose_number AS "
 "VARCHAR(2)) END, -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' ON CONFLICT (station_id, kind) DO UPDATE "
 'SET n = n + (-1); INSERT INTO dose_enterprise_total (enterprise_id, kind, n) SELECT COALESCE((SELECT '
 "e.enterprise_id FROM person e WHERE e.id = OLD.person_id), 0), CASE WHEN OLD.is_booster THEN 'booster' ELSE 'dose' "
 "|| CAST(OLD.dose_number AS VARCHAR(2)) END, -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' ON CONFLICT "
 '(enterprise_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO dose_count (day, station_id, enterprise_id, kind, n) '
 'SELECT date(OLD.at), COALESCE(OLD.station_id, 0), COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = '
 "OLD.person_id), 0), 'complete', -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' AND NOT OLD.is_booster AND "
 'OLD.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = OLD.product_id), '
 'OLD.dose_number) ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO '
 "dose_station_day (day, station_id, kind, n) SELECT date(OLD.at), COALESCE(OLD.station_id, 0), 'complete', -1 WHERE "
 "OLD.outcome = 'given' AND OLD.state = 'valid' AND NOT OLD.is_booster AND OLD.dose_number >= COALESCE((SELECT "
 'p.primary_doses FROM vaccine_product p WHERE p.id = OLD.product_id), OLD.dose_number) ON CONFLICT (day, '
 'station_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO dose_station_total (station_id, kind, n) SELECT '
 "COALESCE(OLD.station_id, 0), 'complete', -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' AND NOT "
 'OLD.is_booster AND OLD.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = '
 'OLD.product_id), OLD.dose_number) ON CONFLICT (station_id, kind) DO UPDATE SET n = n + (-1); INSERT INTO '
 'dose_enterprise_total (enterprise_id, kind, n) SELECT COALESCE((SELECT e.enterprise_id FROM person e WHERE e.id = '
 "OLD.person_id), 0), 'complete', -1 WHERE OLD.outcome = 'given' AND OLD.state = 'valid' AND NOT OLD.is_booster AND "
 'OLD.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p WHERE p.id = OLD.product_id), '
 'OLD.dose_number) ON CONFLICT (enterprise_id, kind) DO UPDATE SET n = n + (-1); END')

BACKFILL = (
    "INSERT INTO dose_station_day (day, station_id, kind, n) "
    "SELECT day, station_id, kind, SUM(n) FROM dose_count GROUP BY day, station_id, kind HAVING SUM(n) <> 0"
)
TRIGGERS = {
    'postgresql': ('dose_counts_insert', 'dose_counts_update', 'dose_counts_delete'),
    'sqlite': ('dose_count_insert', 'dose_count_update', 'dose_count_delete'),
}


def _drop_triggers(dialect):
    for name in TRIGGERS[dialect]:
        op.execute(f'DROP TRIGGER IF EXISTS {name} ON vaccination' if dialect == 'postgresql'
                   else f'DROP TRIGGER IF EXISTS {name}')


def _replace_triggers(statements):
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    for statement in statements[dialect]:
        op.execute(statement)


def upgrade():
    op.create_table(
        'dose_station_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('station_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'station_id', 'kind', name=op.f('pk_dose_station_day')),
    )
    op.execute(BACKFILL)
    _replace_triggers({'postgresql': POSTGRESQL, 'sqlite': SQLITE})


def downgrade():
    """Back to migration 0018's triggers (frozen in that file), which keep the other three tables."""
    path = Path(__file__).with_name('0018_dose_totals.py')
    spec = importlib.util.spec_from_file_location('migration_0018_dose_totals', path)
    before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(before)
    _replace_triggers({'postgresql': before.POSTGRESQL, 'sqlite': before.SQLITE})
    op.drop_table('dose_station_day')
