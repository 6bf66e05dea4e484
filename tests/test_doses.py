"""Doses: the course moves dose by dose (待续种 / 全程接种), one vaccination record per attempt, boosters."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from admin_views import labels
from models import AppointmentSlot, Person, PersonEvent, Vaccination
from models.base import today
from models.vaccines import seed_vaccine_products
from models.workflow import apply_transition

VERO, CHO, AD5 = "新冠病毒灭活疫苗(Vero细胞)", "重组新冠病毒蛋白疫苗(CHO细胞)", "腺病毒载体新冠疫苗(Ad5-nCoV)"


@pytest.fixture
def desk(make_enterprise, make_station, make_slot, make_user, make_persons):
    products = seed_vaccine_products()
    enterprise, station = make_enterprise(), make_station()
    slot = make_slot(station, capacity=100, starts_at=datetime.combine(today(), datetime.min.time()).replace(hour=9))
    users = {"station": make_user("station", station), "center": make_user("center")}

    def checked_in(count=1, **values):
        return make_persons(enterprise, count, status="checked_in", station=station, slot=slot, **values)

    return dict(products=products, station=station, slot=slot, users=users, checked_in=checked_in,
                enterprise=enterprise, make_slot=make_slot)


def _give(desk, ids, product=None, lot="L1"):
    return apply_transition("vaccinate", desk["users"]["station"], ids=ids, product=product,
                            extra={"vaccine_lot": lot, "signature_png": b"\x89PNG"})


def _person(db, pid):
    db.session.expire_all()
    return db.session.get(Person, pid)


def _records(db, pid):
    return db.session.execute(
        select(Vaccination).where(Vaccination.person_id == pid).order_by(Vaccination.id)).scalars().all()


def _book_and_check_in(db, desk, ids, day):
    slot = desk["make_slot"](desk["station"], capacity=50,
                             starts_at=datetime.combine(day, datetime.min.time()).replace(hour=9))
    booked = apply_transition("appoint", desk["users"]["center"], ids=ids, slot=slot)
    # The slot's day has come: the window opened (the desk refuses a check-in before it).
    db.session.execute(Person.__table__.update().where(Person.id.in_(ids), Person.next_dose_earliest > today())
                       .values(next_dose_earliest=today()))
    apply_transition("check_in", desk["users"]["station"], ids=ids)
    return booked, slot


def test_dose_one_of_two_leaves_the_person_due_with_the_window_and_a_record(db, desk):
    [pid] = desk["checked_in"]()
    result = _give(desk, [pid], desk["products"][VERO])
    db.session.commit()
    person = _person(db, pid)
    assert (person.status, person.dose_number, person.doses_given, person.product.name) == ("due_next", 2, 1, VERO)
    assert (person.next_dose_earliest, person.next_dose_latest) == (today() + timedelta(21), today() + timedelta(56))
    assert person.slot_id is None  # the dose-1 slot stays booked, on the record
    [record] = _records(db, pid)
    assert (record.dose_number, record.is_booster, record.outcome, record.state) == (1, False, "given", "valid")
    assert (record.product.name, record.lot_number, record.signature_png) == (VERO, "L1", b"\x89PNG")
    assert (record.slot_id, record.station_id, record.event_id) == (desk["slot"].id, desk["station"].id,
                                                                     result.event_id)
    assert record.vaccinator_id == desk["users"]["station"].id
    assert db.session.get(AppointmentSlot, desk["slot"].id).booked == 1
    [history] = db.session.execute(select(PersonEvent).where(PersonEvent.event_id == result.event_id)).scalars()
    assert (history.from_status, history.to_status) == ("checked_in", "due_next")


def test_dose_two_is_never_booked_before_the_first_allowed_day_and_completes_the_course(db, desk):
    [pid] = desk["checked_in"]()
    _give(desk, [pid], desk["products"][VERO])
    too_early, _ = _book_and_check_in(db, desk, [pid], today() + timedelta(20))
    assert too_early.changed == 0 and _person(db, pid).status == "due_next"
    on_time, _ = _book_and_check_in(db, desk, [pid], today() + timedelta(21))
    assert on_time.changed == 1 and _person(db, pid).status == "checked_in"
    _give(desk, [pid], lot="L2")  # the course's product
    db.session.commit()
    person = _person(db, pid)
    assert (person.status, person.dose_number, person.doses_given) == ("vaccinated", 3, 2)
    assert (person.next_dose_earliest, person.next_dose_latest) == (None, None)
    assert [(r.dose_number, r.lot_number, r.product.name) for r in _records(db, pid)] == [(1, "L1", VERO),
                                                                                       (2, "L2", VERO)]


def test_check_in_refuses_a_next_dose_before_its_first_allowed_day(db, desk):
    [pid] = desk["checked_in"]()
    _give(desk, [pid], desk["products"][VERO])
    slot = desk["make_slot"](desk["station"], capacity=5, starts_at=datetime.combine(
        today() + timedelta(21), datetime.min.time()).replace(hour=9))
    apply_transition("appoint", desk["users"]["center"], ids=[pid], slot=slot)
    assert apply_transition("check_in", desk["users"]["station"], ids=[pid]).changed == 0
    assert _person(db, pid).status == "appointed"


def test_three_dose_and_single_dose_courses(db, desk):
    [cho] = desk["checked_in"]()
    [ad5] = desk["checked_in"]()
    _give(desk, [cho], desk["products"][CHO])
    _give(desk, [ad5], desk["products"][AD5])
    assert (_person(db, cho).status, _person(db, cho).next_dose_earliest) == ("due_next", today() + timedelta(28))
    assert (_person(db, ad5).status, _person(db, ad5).next_dose_earliest) == ("vaccinated", None)
    for dose in (2, 3):
        db.session.execute(Person.__table__.update().where(Person.id == cho).values(next_dose_earliest=today()))
        booked, _ = _book_and_check_in(db, desk, [cho], today() + timedelta(dose))
        assert booked.changed == 1
        _give(desk, [cho])
        person = _person(db, cho)
        expected = ("due_next", today() + timedelta(28), today() + timedelta(124)) if dose == 2 else (
            "vaccinated", None, None)
        assert (person.status, person.next_dose_earliest, person.next_dose_latest) == expected
    assert [r.dose_number for r in _records(db, cho)] == [1, 2, 3]


def test_one_batch_moves_each_row_by_its_own_course(db, desk):
    new = desk["checked_in"](3)
    second = desk["checked_in"](2, product_id=desk["products"][VERO].id, dose_number=2, doses_given=1)
    single = desk["checked_in"](2, product_id=desk["products"][AD5].id)
    result = _give(desk, new + second + single, desk["products"][VERO])
    db.session.commit()
    assert result.changed == 7
    statuses = {pid: _person(db, pid).status for pid in new + second + single}
    assert [statuses[p] for p in new] == ["due_next"] * 3
    assert [statuses[p] for p in second + single] == ["vaccinated"] * 4
    recorded = dict(db.session.execute(select(Vaccination.person_id, Vaccination.dose_number)).all())
    assert [recorded[p] for p in new + second + single] == [1, 1, 1, 2, 2, 1, 1]


def test_not_vaccinated_writes_a_not_given_record_and_the_same_dose_is_booked_again(db, desk):
    [pid] = desk["checked_in"](product_id=desk["products"][VERO].id, dose_number=2, doses_given=1)
    apply_transition("mark_not_vaccinated", desk["users"]["station"], ids=[pid], reason="发热(体温≥37.3℃)")
    person = _person(db, pid)
    assert (person.status, person.dose_number, person.doses_given) == ("not_vaccinated", 2, 1)
    [record] = _records(db, pid)
    assert (record.outcome, record.dose_number, record.reason, record.product.name) == (
        "not_given", 2, "发热(体温≥37.3℃)", VERO)
    booked, _ = _book_and_check_in(db, desk, [pid], today() + timedelta(1))
    assert booked.changed == 1 and _person(db, pid).dose_number == 2


def test_cancelling_a_next_dose_appointment_goes_back_to_due_next(db, desk):
    [pid] = desk["checked_in"]()
    _give(desk, [pid], desk["products"][VERO])
    slot = desk["make_slot"](desk["station"], capacity=5, starts_at=datetime.combine(
        today() + timedelta(30), datetime.min.time()).replace(hour=9))
    assert apply_transition("appoint", desk["users"]["center"], ids=[pid], slot=slot).changed == 1
    apply_transition("cancel_appointment", desk["users"]["center"], ids=[pid], reason="本人出差")
    db.session.commit()
    person = _person(db, pid)
    assert (person.status, person.slot_id, person.dose_number) == ("due_next", None, 2)
    assert db.session.get(AppointmentSlot, slot.id).booked == 0
    assert db.session.get(AppointmentSlot, desk["slot"].id).booked == 1  # dose 1's place was used


def test_the_center_opens_boosters_for_completed_courses_only(db, desk):
    done = desk["checked_in"](2, product_id=desk["products"][VERO].id, dose_number=2, doses_given=1)
    [unknown] = desk["checked_in"]()
    [waiting] = desk["checked_in"]()
    _give(desk, done)
    _give(desk, [unknown])  # a product the desk did not name: no course known
    _give(desk, [waiting], desk["products"][VERO])
    result = apply_transition("open_booster", desk["users"]["center"], ids=done + [unknown, waiting])
    db.session.commit()
    assert (result.changed, result.skipped) == (2, 1 + 1)
    person = _person(db, done[0])
    assert (person.status, person.dose_number, person.next_dose_earliest, person.next_dose_latest, person.slot_id) == (
        "due_next", 3, today() + timedelta(180), None, None)
    assert _person(db, unknown).status == "vaccinated"  # no product, no schedule: no booster offered
    booked, _ = _book_and_check_in(db, desk, done, today() + timedelta(179))
    assert booked.changed == 0
    booked, _ = _book_and_check_in(db, desk, done, today() + timedelta(180))
    assert booked.changed == 2
    _give(desk, done, lot="B1")
    db.session.commit()
    person = _person(db, done[0])
    assert (person.status, person.dose_number, person.doses_given) == ("vaccinated", 4, 3)
    last = _records(db, done[0])[-1]
    assert (last.dose_number, last.is_booster) == (3, True)
    assert labels.dose_label(last.dose_number, last.is_booster) == "加强"
