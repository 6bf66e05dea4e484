"""station_status_count and vaccination_day_count; one trigger function keeps all counters

Revision ID: 0003_counters_stations_days
Revises: 0002_counters_status_count
Create Date: 2026-11-27 00:30:00

Dashboards read per-station figures and vaccinations per day from these tables instead
of grouping the persons table; today's check-ins use an index on checked_in_at. The
trigger statements are frozen below as they were at this revision (models/counters.py
holds the current ones): a later change of the counters needs a migration of its own
that re-creates them.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0003_counters_stations_days'
down_revision = '0002_counters_status_count'
branch_labels = None
depends_on = None

PREVIOUS = '0002_counters_status_count'

# The trigger statements as they were at this revision, frozen here: models/counters.py holds
# the current ones, and a later change there must not change what this revision does.
POSTGRESQL_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION person_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
IF TG_OP = 'INSERT' THEN
WITH m AS (SELECT enterprise_id, station_id, status, day, sum(k) AS k FROM (SELECT enterprise_id, station_id, status, CASE WHEN status = 'vaccinated' AND station_id IS NOT NULL THEN CAST(finished_at AS DATE) END AS day, 1 AS k FROM new_rows) AS moves GROUP BY enterprise_id, station_id, status, day HAVING sum(k) <> 0),
d0 AS (SELECT enterprise_id, status, sum(k) AS k FROM m WHERE enterprise_id IS NOT NULL AND status IS NOT NULL GROUP BY enterprise_id, status HAVING sum(k) <> 0),
take0 AS (UPDATE person_status_count AS c SET n = c.n + d0.k FROM d0 WHERE d0.k < 0 AND c.enterprise_id = d0.enterprise_id AND c.status = d0.status),
add0 AS (INSERT INTO person_status_count AS c (enterprise_id, status, n) SELECT enterprise_id, status, k FROM d0 WHERE k > 0 ON CONFLICT (enterprise_id, status) DO UPDATE SET n = c.n + EXCLUDED.n),
d1 AS (SELECT station_id, status, sum(k) AS k FROM m WHERE station_id IS NOT NULL AND status IS NOT NULL GROUP BY station_id, status HAVING sum(k) <> 0),
take1 AS (UPDATE station_status_count AS c SET n = c.n + d1.k FROM d1 WHERE d1.k < 0 AND c.station_id = d1.station_id AND c.status = d1.status),
add1 AS (INSERT INTO station_status_count AS c (station_id, status, n) SELECT station_id, status, k FROM d1 WHERE k > 0 ON CONFLICT (station_id, status) DO UPDATE SET n = c.n + EXCLUDED.n),
d2 AS (SELECT day, station_id, sum(k) AS k FROM m WHERE day IS NOT NULL AND station_id IS NOT NULL GROUP BY day, station_id HAVING sum(k) <> 0),
take2 AS (UPDATE vaccination_day_count AS c SET n = c.n + d2.k FROM d2 WHERE d2.k < 0 AND c.day = d2.day AND c.station_id = d2.station_id)
INSERT INTO vaccination_day_count AS c (day, station_id, n) SELECT day, station_id, k FROM d2 WHERE k > 0 ON CONFLICT (day, station_id) DO UPDATE SET n = c.n + EXCLUDED.n;
ELSIF TG_OP = 'DELETE' THEN
WITH m AS (SELECT enterprise_id, station_id, status, day, sum(k) AS k FROM (SELECT enterprise_id, station_id, status, CASE WHEN status = 'vaccinated' AND station_id IS NOT NULL THEN CAST(finished_at AS DATE) END AS day, -1 AS k FROM old_rows) AS moves GROUP BY enterprise_id, station_id, status, day HAVING sum(k) <> 0),
d0 AS (SELECT enterprise_id, status, sum(k) AS k FROM m WHERE enterprise_id IS NOT NULL AND status IS NOT NULL GROUP BY enterprise_id, status HAVING sum(k) <> 0),
take0 AS (UPDATE person_status_count AS c SET n = c.n + d0.k FROM d0 WHERE d0.k < 0 AND c.enterprise_id = d0.enterprise_id AND c.status = d0.status),
add0 AS (INSERT INTO person_status_count AS c (enterprise_id, status, n) SELECT enterprise_id, status, k FROM d0 WHERE k > 0 ON CONFLICT (enterprise_id, status) DO UPDATE SET n = c.n + EXCLUDED.n),
d1 AS (SELECT station_id, status, sum(k) AS k FROM m WHERE station_id IS NOT NULL AND status IS NOT NULL GROUP BY station_id, status HAVING sum(k) <> 0),
take1 AS (UPDATE station_status_count AS c SET n = c.n + d1.k FROM d1 WHERE d1.k < 0 AND c.station_id = d1.station_id AND c.status = d1.status),
add1 AS (INSERT INTO station_status_count AS c (station_id, status, n) SELECT station_id, status, k FROM d1 WHERE k > 0 ON CONFLICT (station_id, status) DO UPDATE SET n = c.n + EXCLUDED.n),
d2 AS (SELECT day, station_id, sum(k) AS k FROM m WHERE day IS NOT NULL AND station_id IS NOT NULL GROUP BY day, station_id HAVING sum(k) <> 0),
take2 AS (UPDATE vaccination_day_count AS c SET n = c.n + d2.k FROM d2 WHERE d2.k < 0 AND c.day = d2.day AND c.station_id = d2.station_id)
INSERT INTO vaccination_day_count AS c (day, station_id, n) SELECT day, station_id, k FROM d2 WHERE k > 0 ON CONFLICT (day, station_id) DO UPDATE SET n = c.n + EXCLUDED.n;
ELSE
WITH m AS (SELECT enterprise_id, station_id, status, day, sum(k) AS k FROM (SELECT enterprise_id, station_id, status, CASE WHEN status = 'vaccinated' AND station_id IS NOT NULL THEN CAST(finished_at AS DATE) END AS day, -1 AS k FROM old_rows UNION ALL SELECT enterprise_id, station_id, status, CASE WHEN status = 'vaccinated' AND station_id IS NOT NULL THEN CAST(finished_at AS DATE) END AS day, 1 AS k FROM new_rows) AS moves GROUP BY enterprise_id, station_id, status, day HAVING sum(k) <> 0),
d0 AS (SELECT enterprise_id, status, sum(k) AS k FROM m WHERE enterprise_id IS NOT NULL AND status IS NOT NULL GROUP BY enterprise_id, status HAVING sum(k) <> 0),
take0 AS (UPDATE person_status_count AS c SET n = c.n + d0.k FROM d0 WHERE d0.k < 0 AND c.enterprise_id = d0.enterprise_id AND c.status = d0.status),
add0 AS (INSERT INTO person_status_count AS c (enterprise_id, status, n) SELECT enterprise_id, status, k FROM d0 WHERE k > 0 ON CONFLICT (enterprise_id, status) DO UPDATE SET n = c.n + EXCLUDED.n),
d1 AS (SELECT station_id, status, sum(k) AS k FROM m WHERE station_id IS NOT NULL AND status IS NOT NULL GROUP BY station_id, status HAVING sum(k) <> 0),
take1 AS (UPDATE station_status_count AS c SET n = c.n + d1.k FROM d1 WHERE d1.k < 0 AND c.station_id = d1.station_id AND c.status = d1.status),
add1 AS (INSERT INTO station_status_count AS c (station_id, status, n) SELECT station_id, status, k FROM d1 WHERE k > 0 ON CONFLICT (station_id, status) DO UPDATE SET n = c.n + EXCLUDED.n),
d2 AS (SELECT day, station_id, sum(k) AS k FROM m WHERE day IS NOT NULL AND station_id IS NOT NULL GROUP BY day, station_id HAVING sum(k) <> 0),
take2 AS (UPDATE vaccination_day_count AS c SET n = c.n + d2.k FROM d2 WHERE d2.k < 0 AND c.day = d2.day AND c.station_id = d2.station_id)
INSERT INTO vaccination_day_count AS c (day, station_id, n) SELECT day, station_id, k FROM d2 WHERE k > 0 ON CONFLICT (day, station_id) DO UPDATE SET n = c.n + EXCLUDED.n;
END IF;
RETURN NULL;
END
$$""",
    "CREATE TRIGGER person_counts_insert AFTER INSERT ON person REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION person_counts_apply()",
    "CREATE TRIGGER person_counts_update AFTER UPDATE ON person REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION person_counts_apply()",
    "CREATE TRIGGER person_counts_delete AFTER DELETE ON person REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION person_counts_apply()",
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER person_status_count_insert AFTER INSERT ON person BEGIN INSERT INTO person_status_count (enterprise_id, status, n) SELECT NEW.enterprise_id, NEW.status, 1 WHERE 1 = 1 ON CONFLICT (enterprise_id, status) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER person_status_count_update AFTER UPDATE OF enterprise_id, status ON person WHEN NEW.enterprise_id IS NOT OLD.enterprise_id OR NEW.status IS NOT OLD.status BEGIN UPDATE person_status_count SET n = n - 1 WHERE enterprise_id = OLD.enterprise_id AND status = OLD.status AND 1 = 1; INSERT INTO person_status_count (enterprise_id, status, n) SELECT NEW.enterprise_id, NEW.status, 1 WHERE 1 = 1 ON CONFLICT (enterprise_id, status) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER person_status_count_delete AFTER DELETE ON person BEGIN UPDATE person_status_count SET n = n - 1 WHERE enterprise_id = OLD.enterprise_id AND status = OLD.status AND 1 = 1; END",
    "CREATE TRIGGER station_status_count_insert AFTER INSERT ON person BEGIN INSERT INTO station_status_count (station_id, status, n) SELECT NEW.station_id, NEW.status, 1 WHERE NEW.station_id IS NOT NULL ON CONFLICT (station_id, status) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER station_status_count_update AFTER UPDATE OF station_id, status ON person WHEN NEW.station_id IS NOT OLD.station_id OR NEW.status IS NOT OLD.status BEGIN UPDATE station_status_count SET n = n - 1 WHERE station_id = OLD.station_id AND status = OLD.status AND OLD.station_id IS NOT NULL; INSERT INTO station_status_count (station_id, status, n) SELECT NEW.station_id, NEW.status, 1 WHERE NEW.station_id IS NOT NULL ON CONFLICT (station_id, status) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER station_status_count_delete AFTER DELETE ON person BEGIN UPDATE station_status_count SET n = n - 1 WHERE station_id = OLD.station_id AND status = OLD.status AND OLD.station_id IS NOT NULL; END",
    "CREATE TRIGGER vaccination_day_count_insert AFTER INSERT ON person BEGIN INSERT INTO vaccination_day_count (day, station_id, n) SELECT date(NEW.finished_at), NEW.station_id, 1 WHERE NEW.status = 'vaccinated' AND NEW.finished_at IS NOT NULL AND NEW.station_id IS NOT NULL ON CONFLICT (day, station_id) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER vaccination_day_count_update AFTER UPDATE OF status, finished_at, station_id ON person WHEN NEW.status IS NOT OLD.status OR NEW.finished_at IS NOT OLD.finished_at OR NEW.station_id IS NOT OLD.station_id BEGIN UPDATE vaccination_day_count SET n = n - 1 WHERE day = date(OLD.finished_at) AND station_id = OLD.station_id AND OLD.status = 'vaccinated' AND OLD.finished_at IS NOT NULL AND OLD.station_id IS NOT NULL; INSERT INTO vaccination_day_count (day, station_id, n) SELECT date(NEW.finished_at), NEW.station_id, 1 WHERE NEW.status = 'vaccinated' AND NEW.finished_at IS NOT NULL AND NEW.station_id IS NOT NULL ON CONFLICT (day, station_id) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER vaccination_day_count_delete AFTER DELETE ON person BEGIN UPDATE vaccination_day_count SET n = n - 1 WHERE day = date(OLD.finished_at) AND station_id = OLD.station_id AND OLD.status = 'vaccinated' AND OLD.finished_at IS NOT NULL AND OLD.station_id IS NOT NULL; END",
)
POSTGRESQL_DROP_TRIGGERS = (
    "DROP TRIGGER IF EXISTS person_counts_insert ON person",
    "DROP TRIGGER IF EXISTS person_counts_update ON person",
    "DROP TRIGGER IF EXISTS person_counts_delete ON person",
    "DROP FUNCTION IF EXISTS person_counts_apply()",
)
SQLITE_DROP_TRIGGERS = (
    "DROP TRIGGER IF EXISTS person_status_count_insert",
    "DROP TRIGGER IF EXISTS person_status_count_update",
    "DROP TRIGGER IF EXISTS person_status_count_delete",
    "DROP TRIGGER IF EXISTS station_status_count_insert",
    "DROP TRIGGER IF EXISTS station_status_count_update",
    "DROP TRIGGER IF EXISTS station_status_count_delete",
    "DROP TRIGGER IF EXISTS vaccination_day_count_insert",
    "DROP TRIGGER IF EXISTS vaccination_day_count_update",
    "DROP TRIGGER IF EXISTS vaccination_day_count_delete",
)


def _previous_module():
    return op.get_context().script.get_revision(PREVIOUS).module


def upgrade():
    op.create_table('station_status_count',
    sa.Column('station_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('station_id', 'status', name=op.f('pk_station_status_count'))
    )
    op.create_table('vaccination_day_count',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('station_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'station_id', name=op.f('pk_vaccination_day_count'))
    )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_checked_in_at', ['checked_in_at', 'station_id'], unique=False)

    dialect = op.get_bind().dialect.name
    previous = _previous_module()
    for name in previous.TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON person" if dialect == "postgresql"
                   else f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS person_status_count_apply()")
    for statement in POSTGRESQL_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)

    day = "CAST(finished_at AS DATE)" if dialect == "postgresql" else "date(finished_at)"
    op.execute(
        "INSERT INTO station_status_count (station_id, status, n) "
        "SELECT station_id, status, count(*) FROM person WHERE station_id IS NOT NULL GROUP BY station_id, status"
    )
    op.execute(
        f"INSERT INTO vaccination_day_count (day, station_id, n) SELECT {day}, station_id, count(*) FROM person "
        "WHERE status = 'vaccinated' AND finished_at IS NOT NULL AND station_id IS NOT NULL "
        f"GROUP BY {day}, station_id"
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in POSTGRESQL_DROP_TRIGGERS if dialect == "postgresql" else SQLITE_DROP_TRIGGERS:
        op.execute(statement)
    previous = _previous_module()
    for statement in previous.POSTGRESQL_TRIGGERS if dialect == "postgresql" else previous.SQLITE_TRIGGERS:
        op.execute(statement)
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index('ix_person_checked_in_at')
    op.drop_table('vaccination_day_count')
    op.drop_table('station_status_count')
