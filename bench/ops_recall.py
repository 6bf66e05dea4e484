"""The recall list (召回名单) of one lot: its first page beside the raw indexed query for the same page.

Two dose records per person are written first when the dataset has none (2,000,000 persons ->
4,000,000 records), spread over 20 lots, so one lot holds ~5% of the records. Both the page
(GET /center/lots/<id>/recipients, the whole request: login check, query, template) and the
operation alone (models.recall.recipients_page, the actor loaded once as the request has it) are
timed alternately with the raw SQL. The page's note gives the same page of a lot nobody was given
(what the request costs without rows), and the lots list (GET /center/lots/, doses given per lot
from the counters) is timed beside the GROUP BY over the records it replaced.
"""

from datetime import timedelta

from sqlalchemy import func, select, text

from bench.harness import Row, interleaved, median
from bench.web import logged_in_client
from extensions import db
from models.base import now, today
from models.doses import Vaccination
from models.lots import LotStock, VaccineLot
from models.recall import PAGE_SIZE, recipients_page
from models.user import User
from models.vaccines import seed_vaccine_products

LOTS = 20
TARGET_RATIO = 3.0
TARGET = f"≤ {TARGET_RATIO:.0f}× the raw indexed query for the same page"

GROUPED_DOSES = text(
    "SELECT lot_id, count(*) FROM vaccination WHERE outcome = 'given' AND state = 'valid' AND lot_id IS NOT NULL "
    "GROUP BY lot_id"
)
RAW_PAGE = text(
    "SELECT v.id, v.at, v.dose_number, p.name, p.id_number, p.phone, e.name, s.name FROM vaccination v "
    "JOIN person p ON p.id = v.person_id JOIN enterprise e ON e.id = p.enterprise_id "
    "LEFT JOIN station s ON s.id = v.station_id "
    "WHERE v.lot_id = :lot AND v.outcome = 'given' AND v.state = 'valid' ORDER BY v.id LIMIT :size"
)


def ensure_dose_records(ctx):
    """Write two dose records per person over LOTS lots, unless the dataset already has dose records."""
    if db.session.execute(select(func.count()).select_from(Vaccination)).scalar_one():
        return db.session.execute(select(VaccineLot.id).order_by(VaccineLot.id).limit(1)).scalar_one_or_none()
    product = next(iter(seed_vaccine_products().values()))
    lots = [VaccineLot(product_id=product.id, manufacturer=product.manufacturer or "bench", lot_number=f"BENCH{i:02d}",
                       expiry_date=today() + timedelta(days=365), doses_per_package=1) for i in range(LOTS)]
    db.session.add_all(lots)
    db.session.flush()
    first = min(lot.id for lot in lots)
    at = now() - timedelta(days=1)
    db.session.execute(text(
        "INSERT INTO vaccination (person_id, dose_number, is_booster, product_id, lot_id, lot_number, station_id, "
        "outcome, at, state, created_at) "
        "SELECT p.id, d.n, :no, :product, l.id, l.lot_number, p.station_id, 'given', :at, 'valid', :at "
        "FROM person p CROSS JOIN (SELECT 1 AS n UNION ALL SELECT 2) d "
        "JOIN vaccine_lot l ON l.id = :first + ((p.id * 2 + d.n) % :lots)"
    ), {"no": False, "product": product.id, "at": at, "first": first, "lots": LOTS})
    db.session.commit()
    db.session.execute(text("ANALYZE vaccination"))
    db.session.commit()
    return first


def empty_lot_id():
    """A lot nobody was given (made once, kept with the dataset)."""
    lot = db.session.execute(select(VaccineLot).where(VaccineLot.lot_number == "BENCHEMPTY")).scalar_one_or_none()
    if lot is None:
        product = next(iter(seed_vaccine_products().values()))
        lot = VaccineLot(product_id=product.id, manufacturer=product.manufacturer or "bench", lot_number="BENCHEMPTY",
                         expiry_date=today() + timedelta(days=365), doses_per_package=1)
        db.session.add(lot)
        db.session.commit()
    return lot.id


def measure(ctx):
    with ctx.app.app_context():
        lot_id = ensure_dose_records(ctx)
        empty_id = empty_lot_id()
        records = db.session.execute(select(func.count()).select_from(Vaccination)).scalar_one()
        center = db.session.execute(select(User).where(User.username == "center")).scalar_one()
        db.session.expunge(center)  # the actor as the request has it: loaded once, before the operation
        db.session.rollback()
    ctx.log(f"recall: {records:,} dose records, lot {lot_id}")
    client = logged_in_client(ctx.app, "center")

    def raw():
        with ctx.app.app_context():
            rows = db.session.execute(RAW_PAGE, {"lot": lot_id, "size": PAGE_SIZE + 1}).all()
            db.session.rollback()
        return rows

    def get(url):
        response = client.get(url)
        assert response.status_code == 200
        response.close()

    def operation():
        with ctx.app.app_context():
            rows, _ = recipients_page(center, lot_id)
            db.session.rollback()
        return rows

    with ctx.app.app_context():
        same = [r[0] for r in operation()] == [r[0] for r in raw()][:PAGE_SIZE]
    empty_page = median(interleaved(ctx.repeat, lambda: get(f"/center/lots/{empty_id}/recipients"), raw)[0])
    rows = []
    for label, measured, note in (
            ("recall list first page (GET /center/lots/<id>/recipients)",
             lambda: get(f"/center/lots/{lot_id}/recipients"),
             f"; the same page of a lot nobody was given {empty_page * 1000:.1f} ms"),
            ("recall list first page, the query alone (recipients_page)", operation, "")):
        times, times_raw = interleaved(ctx.repeat, measured, raw, warmup=2)
        row = Row(label, ctx.engine, ctx.persons, measured=median(times), baseline=median(times_raw), unit="ms",
                  target=TARGET, note=f"{records:,} dose records" + ("" if same else "; rows differ from raw SQL")
                  + note)
        row.passed = bool(same and row.measured <= TARGET_RATIO * row.baseline)
        ctx.log(f"{label}: {row.measured * 1000:.2f} ms, raw {row.baseline * 1000:.2f} ms")
        rows.append(row)
    rows.append(lots_list_row(ctx, client, records))
    return rows


def lots_list_row(ctx, client, records):
    """The center's lots list beside the GROUP BY over the records it ran before the counters."""
    def grouped():
        with ctx.app.app_context():
            found = dict(db.session.execute(GROUPED_DOSES).all())
            db.session.rollback()
        return found

    def page():
        response = client.get("/center/lots/")
        assert response.status_code == 200
        response.close()

    with ctx.app.app_context():
        counted = {lot_id: n for lot_id, n in db.session.execute(text("SELECT lot_id, n FROM lot_dose_count"))
                   if n}
        stations = db.session.execute(select(func.count()).select_from(LotStock)).scalar_one()
        db.session.rollback()
    same = counted == grouped()
    times, times_grouped = interleaved(ctx.repeat, page, grouped, warmup=1)
    label = "center lots list (GET /center/lots/), doses given per lot"
    row = Row(label, ctx.engine, ctx.persons, measured=median(times), baseline=median(times_grouped), unit="ms",
              target="faster than the GROUP BY over the records alone",
              note=f"{records:,} dose records, {stations} station stock rows; baseline: GROUP BY lot_id"
              + ("" if same else "; counters differ from GROUP BY"))
    row.passed = bool(same and row.measured < row.baseline)
    ctx.log(f"{label}: {row.measured * 1000:.2f} ms, GROUP BY {row.baseline * 1000:.2f} ms")
    return row
