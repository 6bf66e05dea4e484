"""Migration 0007 on a database of yesterday's shape: vaccinated people get their dose-1 record."""

from datetime import date, datetime

from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from extensions import db
from tests.test_migrations import _fresh_database_url

VERO = "新冠病毒灭活疫苗(Vero细胞)"
AD5 = "腺病毒载体新冠疫苗(Ad5-nCoV)"


def _yesterdays_world(connection):
    """One enterprise and station, four people: dose of Vero, of Ad5, of an unknown product, and one refused."""
    run = connection.execute
    run(text("INSERT INTO territory (id, name, sort_order) VALUES (1, '新港街道', 1)"))
    run(text("INSERT INTO review_department (id, name, dimension, sort_order) VALUES (1, '工信局', 'industry', 1)"))
    run(text("INSERT INTO enterprise (id, name, credit_code, department_id, territory_id, address, contact_name, "
             "phone, qr_token, created_at) VALUES (1, '甲公司', '91120116MA00000001', 1, 1, '', '', '', 'tok', "
             "'2026-11-01 08:00:00')"))
    run(text("INSERT INTO station (id, name, address, active) VALUES (1, '一号接种点', '', TRUE)"))
    run(text("INSERT INTO appointment_slot (id, station_id, starts_at, ends_at, capacity, booked) VALUES "
             "(1, 1, '2026-11-20 09:00:00', '2026-11-20 10:30:00', 10, 4)"))
    run(text("INSERT INTO audit_event (id, at, action, requested, changed, target_type) VALUES "
             "(7, '2026-11-20 09:30:00', 'vaccinate', 3, 3, 'person')"))
    people = (
        (1, "vaccinated", VERO, None), (2, "vaccinated", AD5, None), (3, "vaccinated", "某某疫苗(旧名称)", None),
        (4, "not_vaccinated", None, "发热(体温≥37.3℃)"),
    )
    for pid, status, product, reason in people:
        run(text(
            "INSERT INTO person (id, enterprise_id, name, gender, id_number, age, phone, category, lives_in_binhai, "
            "community, remarks, source, status, station_id, slot_id, created_at, finished_at, vaccine_product, "
            "vaccine_lot, not_vaccinated_reason, last_event_id, version) VALUES (:id, 1, '测试', 'M', :idn, 40, "
            "'13900000000', '企业职工', TRUE, '', '', 'qr', :status, 1, 1, '2026-11-01 08:00:00', "
            "'2026-11-20 09:30:00', :product, 'L202611', :reason, 7, 1)"),
            {"id": pid, "idn": f"12011619800101{pid:03d}X"[:18], "status": status, "product": product,
             "reason": reason})


def test_vaccinated_people_get_their_first_dose_and_two_dose_courses_wait_for_dose_two(database_url, tmp_path):
    url, cleanup = _fresh_database_url(database_url, tmp_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    try:
        with app.app_context():
            upgrade(revision="0007_session_version_reset_state")
            with db.engine.begin() as connection:
                _yesterdays_world(connection)
            upgrade()
            with db.engine.connect() as connection:
                persons = {row.id: row for row in connection.execute(text(
                    "SELECT p.id, p.status, p.dose_number, p.doses_given, p.next_dose_earliest, p.next_dose_latest, "
                    "p.slot_id, v.name AS product FROM person p LEFT JOIN vaccine_product v ON v.id = p.product_id"))}
                doses = {row.person_id: row for row in connection.execute(text(
                    "SELECT person_id, dose_number, outcome, reason, product_name, lot_number, slot_id, event_id, "
                    "state, product_id FROM vaccination"))}
                counted = dict(connection.execute(text(
                    "SELECT status, n FROM person_status_count WHERE n <> 0")).all())
                doses_counted = dict(connection.execute(text(
                    "SELECT kind, SUM(n) FROM dose_count GROUP BY kind")).all())
            db.engine.dispose()
    finally:
        if cleanup:
            engine, schema = cleanup
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()

    vero, ad5, unknown, refused = (persons[i] for i in (1, 2, 3, 4))
    assert (vero.status, vero.product, vero.dose_number, vero.doses_given, vero.slot_id) == (
        "due_next", VERO, 2, 1, None)
    assert (_day(vero.next_dose_earliest), _day(vero.next_dose_latest)) == (date(2026, 12, 11), date(2027, 1, 15))
    assert (ad5.status, ad5.product, ad5.dose_number, ad5.next_dose_earliest) == ("vaccinated", AD5, 2, None)
    assert (unknown.status, unknown.product, unknown.doses_given) == ("vaccinated", None, 1)
    assert (refused.status, refused.doses_given, refused.dose_number) == ("not_vaccinated", 0, 1)

    assert set(doses) == {1, 2, 3, 4}
    assert all(d.dose_number == 1 and d.state == "valid" and d.event_id == 7 for d in doses.values())
    assert (doses[1].outcome, doses[1].slot_id, doses[1].lot_number) == ("given", 1, "L202611")
    assert (doses[3].product_id, doses[3].product_name) == (None, "某某疫苗(旧名称)")
    assert (doses[4].outcome, doses[4].reason) == ("not_given", "发热(体温≥37.3℃)")
    # The counting triggers survived the table copy (SQLite) and saw the move to 待续种.
    assert counted == {"due_next": 1, "vaccinated": 2, "not_vaccinated": 1}
    # Migration 0014 counted the dose-1 records: Ad5 and the unknown product complete their course.
    assert {k: int(n) for k, n in doses_counted.items()} == {"dose1": 3, "complete": 2}


def _day(value):
    return value if isinstance(value, date) else datetime.strptime(value, "%Y-%m-%d").date()
