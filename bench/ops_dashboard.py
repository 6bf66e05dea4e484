"""The center dashboard (its live-figures endpoint and the page) beside the same figures by GROUP BY.

The figures include the per-dose ones (第1剂 / 第2剂 / 全程接种 / 加强, today and in total, per
station and department): the baseline counts them from the vaccination records.
"""

from datetime import timedelta

from sqlalchemy import text

from bench.harness import Row, interleaved, median
from bench.web import logged_in_client
from extensions import db
from models.base import today
from models.stats import FUNNEL_KEYS, funnel_from

TARGET_RATIO = 0.1
TARGET = "≥ 10× faster than the same figures by GROUP BY"


def grouped_figures():
    """The dashboard's figures the plain way: GROUP BY over the persons table, no counters."""
    start = today()
    rows = {
        "by_status": db.session.execute(text("SELECT status, count(*) FROM person GROUP BY status")).all(),
        "enterprises": db.session.execute(text("SELECT count(*) FROM enterprise")).scalar_one(),
        "stations": db.session.execute(text(
            "SELECT station_id, status, count(*), "
            "sum(CASE WHEN checked_in_at >= :start AND checked_in_at < :end THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status = 'vaccinated' AND finished_at >= :start AND finished_at < :end THEN 1 ELSE 0 END) "
            "FROM person WHERE station_id IS NOT NULL GROUP BY station_id, status"
        ), {"start": start, "end": start + timedelta(days=1)}).all(),
        "doses": db.session.execute(text(
            "SELECT v.station_id, e.department_id, v.product_id, v.dose_number, v.is_booster, "
            "CASE WHEN v.at >= :start THEN 1 ELSE 0 END AS today, count(*) FROM vaccination v "
            "JOIN person p ON p.id = v.person_id JOIN enterprise e ON e.id = p.enterprise_id "
            "WHERE v.outcome = 'given' AND v.state = 'valid' GROUP BY v.station_id, e.department_id, v.product_id, "
            "v.dose_number, v.is_booster, CASE WHEN v.at >= :start THEN 1 ELSE 0 END"
        ), {"start": start}).all(),
    }
    return rows


def first_doses(rows):
    """第1剂 in total, from the grouped records (the check that the counters say the same)."""
    return sum(n for _, _, _, dose, booster, _, n in rows["doses"] if dose == 1 and not booster)


def grouped_page_figures():
    """The page's breakdowns too: by department and territory, and vaccinations per day."""
    rows = grouped_figures()
    rows["organisations"] = db.session.execute(text(
        "SELECT e.department_id, e.territory_id, p.status, count(*) FROM person p "
        "JOIN enterprise e ON e.id = p.enterprise_id GROUP BY e.department_id, e.territory_id, p.status"
    )).all()
    first = today() - timedelta(days=13)
    rows["days"] = db.session.execute(text(
        "SELECT date(finished_at), count(*) FROM person WHERE status = 'vaccinated' AND finished_at >= :first "
        "GROUP BY date(finished_at)"
    ), {"first": first}).all()
    return rows


def measure(ctx):
    client = logged_in_client(ctx.app, "center")
    rows = []
    with ctx.app.app_context():
        grouped = grouped_figures()
        expected = funnel_from(dict(grouped["by_status"]))
        db.session.rollback()
    live = client.get("/center/live").get_json()["values"]
    same = (all(live[f"figure:{key}"] == expected[key] for key in FUNNEL_KEYS)
            and live["dose:dose1:total"] == first_doses(grouped))
    for label, url, baseline in (("center dashboard figures (GET /center/live, JSON)", "/center/live", grouped_figures),
                                 ("center dashboard page (GET /center/)", "/center/", grouped_page_figures)):
        def get(url=url):
            assert client.get(url).status_code == 200

        def grouped(baseline=baseline):
            with ctx.app.app_context():
                baseline()
                db.session.rollback()

        times, times_base = interleaved(ctx.repeat, get, grouped, warmup=2)
        row = Row(label, ctx.engine, ctx.persons, measured=median(times), baseline=median(times_base), unit="ms",
                  target=TARGET, note="" if same else "figures differ from GROUP BY")
        row.passed = bool(same and row.ratio <= TARGET_RATIO)
        ctx.log(f"{label}: {row.measured * 1000:.1f} ms, GROUP BY {row.baseline * 1000:.1f} ms")
        rows.append(row)
    return rows
