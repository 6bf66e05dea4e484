"""The state machine: every action from every status, scope, audit rows, statement count."""

import pytest
from sqlalchemy import event, func, select

from admin_views.labels import error_text
from models import AppointmentSlot, AuditEvent, Person, PersonEvent
from models.status import ALL_STATUSES, APPOINTED, CHECKED_IN, DUE_NEXT, NOT_VACCINATED, RANK, VACCINATED
from models.vaccines import seed_vaccine_products
from models.workflow import TRANSITIONS, WorkflowError, apply_transition, funnel_counts, person_scope

SLOT_STATUSES = {APPOINTED, CHECKED_IN, VACCINATED, NOT_VACCINATED}
TWO_DOSES = "新冠病毒灭活疫苗(Vero细胞)"
# Where an action takes the people of the world (dose 1 of a two-dose course, no dose given yet).
TARGET = {"vaccinate": DUE_NEXT}


@pytest.fixture
def world(make_department, make_enterprise, make_station, make_slot, make_user):
    """Two of everything, so each test can check what stays out of scope."""
    dept_a = make_department("部门甲")
    unit_a1 = make_department("部门甲下属单位", parent=dept_a)
    dept_b = make_department("部门乙")
    ent_a = make_enterprise("甲企业", department=unit_a1)
    ent_b = make_enterprise("乙企业", department=dept_b)
    station_1, station_2 = make_station("一号接种点"), make_station("二号接种点")
    slots = {station_1.id: make_slot(station_1, capacity=50), station_2.id: make_slot(station_2, capacity=50)}
    new_slot = make_slot(station_1, capacity=50, starts_at=slots[station_1.id].ends_at)
    products = seed_vaccine_products()
    users = {
        "enterprise": make_user("enterprise", ent_a),
        "review": make_user("review", dept_a),
        "center": make_user("center"),
        "station": make_user("station", station_1),
    }
    return dict(ent_a=ent_a, ent_b=ent_b, station_1=station_1, station_2=station_2, slots=slots,
                new_slot=new_slot, users=users, dept_a=dept_a, product=products[TWO_DOSES])


def _persons_in(world, make_persons, enterprise, station, status, count=3):
    uses_station = RANK[status] >= RANK["allocated"]
    slot = world["slots"][station.id] if status in SLOT_STATUSES else None
    return make_persons(enterprise, count, status=status, station=station if uses_station else None, slot=slot,
                        product_id=world["product"].id)


def _statuses(db, ids):
    return dict(db.session.execute(select(Person.id, Person.status).where(Person.id.in_(ids))).all())


def _kwargs(transition, world):
    kwargs = {}
    if transition.needs_reason:
        kwargs["reason"] = "测试原因"
    if transition.needs_station:
        kwargs["station"] = world["station_1"]
    if transition.needs_slot:
        kwargs["slot"] = world["new_slot"]
    if transition.action == "vaccinate":
        kwargs["product"] = world["product"]
    return kwargs


CASES = [(action, status) for action in TRANSITIONS for status in ALL_STATUSES]


@pytest.mark.parametrize(("action", "status"), CASES)
def test_every_action_from_every_status(db, world, make_persons, action, status):
    transition = TRANSITIONS[action]
    role = sorted(transition.roles)[0]
    actor = world["users"][role]
    mine = _persons_in(world, make_persons, world["ent_a"], world["station_1"], status)
    others = _persons_in(world, make_persons, world["ent_b"], world["station_2"], status)
    db.session.commit()

    result = apply_transition(action, actor, ids=mine + others, **_kwargs(transition, world))
    db.session.commit()

    allowed = status in transition.sources
    others_in_scope = role == "center" and not transition.needs_slot  # the slot belongs to station 1
    after = _statuses(db, mine + others)
    target = TARGET.get(action, transition.target)
    expected_mine = target if allowed else status
    expected_others = target if allowed and others_in_scope else status
    assert [after[i] for i in mine] == [expected_mine] * len(mine)
    assert [after[i] for i in others] == [expected_others] * len(others)

    moved = (len(mine) if allowed else 0) + (len(others) if allowed and others_in_scope else 0)
    assert (result.changed, result.requested, result.skipped) == (moved, 6, 6 - moved)
    history = db.session.execute(select(PersonEvent).where(PersonEvent.event_id == result.event_id)).scalars().all()
    assert len(history) == moved
    assert all(h.from_status == status and h.to_status == target for h in history)
    audit = db.session.get(AuditEvent, result.event_id)
    assert (audit.action, audit.changed, audit.requested, audit.user_id) == (action, moved, 6, actor.id)


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_roles_outside_the_transition_are_refused(db, world, make_persons, action):
    ids = make_persons(world["ent_a"], 2, status=sorted(TRANSITIONS[action].sources)[0])
    for role, actor in world["users"].items():
        if role in TRANSITIONS[action].roles:
            continue
        with pytest.raises(WorkflowError):
            apply_transition(action, actor, ids=ids, **_kwargs(TRANSITIONS[action], world))
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar_one() == 0


def test_return_needs_a_reason_and_the_enterprise_sees_it(db, world, make_persons):
    ids = make_persons(world["ent_a"], 2, status="submitted")
    with pytest.raises(WorkflowError) as refused:
        apply_transition("dept_return", world["users"]["review"], ids=ids, reason="  ")
    assert error_text(refused.value) == "请填写原因"
    apply_transition("dept_return", world["users"]["review"], ids=ids[:1], reason="身份证号有误")
    db.session.commit()
    person = db.session.get(Person, ids[0])
    assert (person.status, person.return_reason, person.submitted_at) == ("registered", "身份证号有误", None)
    apply_transition("submit", world["users"]["enterprise"], ids=ids[:1])
    assert db.session.get(Person, ids[0]).return_reason is None


def test_booking_never_passes_the_slot_capacity(db, world, make_persons, make_slot):
    slot = make_slot(world["station_1"], capacity=4, starts_at=world["new_slot"].ends_at)
    ids = make_persons(world["ent_a"], 6, status="allocated", station=world["station_1"])
    result = apply_transition("appoint", world["users"]["center"], ids=ids, slot=slot)
    db.session.commit()
    assert (result.changed, result.skipped) == (4, 2)
    assert db.session.get(AppointmentSlot, slot.id).booked == 4
    # Earliest ids first: the two left over are the last two.
    assert [s for _, s in sorted(_statuses(db, ids).items())] == ["appointed"] * 4 + ["allocated"] * 2
    again = apply_transition("appoint", world["users"]["center"], ids=ids, slot=slot)
    assert again.changed == 0


def test_cancelling_and_moving_appointments_gives_places_back(db, world, make_persons):
    old_slot = world["slots"][world["station_1"].id]
    ids = make_persons(world["ent_a"], 3, status="appointed", station=world["station_1"], slot=old_slot)
    db.session.commit()
    apply_transition("reschedule", world["users"]["station"], ids=ids[:2], slot=world["new_slot"])
    apply_transition("cancel_appointment", world["users"]["center"], ids=ids[2:], reason="接种点停电")
    db.session.commit()
    assert db.session.get(AppointmentSlot, old_slot.id).booked == 0
    assert db.session.get(AppointmentSlot, world["new_slot"].id).booked == 2
    cancelled = db.session.get(Person, ids[2])
    assert (cancelled.status, cancelled.slot_id, cancelled.appointed_at) == ("allocated", None, None)


def test_vaccinate_stores_the_exit_desk_data(db, world, make_persons):
    ids = make_persons(world["ent_a"], 1, status="checked_in", station=world["station_1"],
                       slot=world["slots"][world["station_1"].id])
    apply_transition("vaccinate", world["users"]["station"], ids=ids,
                     extra={"vaccine_product": "疫苗A", "vaccine_lot": "L1", "signature_png": b"\x89PNG"})
    db.session.commit()
    person = db.session.get(Person, ids[0])
    assert (person.status, person.vaccine_lot, person.signature_png) == ("vaccinated", "L1", b"\x89PNG")
    assert person.finished_by_id == world["users"]["station"].id
    with pytest.raises(WorkflowError):
        apply_transition("check_in", world["users"]["station"], ids=ids, extra={"status": "vaccinated"})


def test_batch_by_condition_acts_on_every_matching_row(db, world, make_persons):
    ids = make_persons(world["ent_a"], 5, status="submitted")
    make_persons(world["ent_b"], 4, status="submitted")
    result = apply_transition("dept_approve", world["users"]["review"], where=Person.status == "submitted")
    assert (result.requested, result.changed, result.skipped) == (9, 5, 4)
    assert set(_statuses(db, ids).values()) == {"dept_approved"}


def test_a_batch_of_ten_thousand_takes_a_bounded_number_of_statements(db, world, make_persons):
    make_persons(world["ent_a"], 10_000, status="submitted")
    db.session.commit()
    statements = []

    def count(*args):
        statements.append(args[2])

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = apply_transition("dept_approve", world["users"]["review"],
                                  where=Person.status == "submitted")
        db.session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result.changed == 10_000
    assert len(statements) <= 12, statements
    assert db.session.execute(select(func.count(PersonEvent.id))).scalar_one() == 10_000


def test_scope_of_each_role(db, world, make_persons):
    a = make_persons(world["ent_a"], 2, status="allocated", station=world["station_1"])
    b = make_persons(world["ent_b"], 3, status="allocated", station=world["station_2"])

    def visible(role):
        condition = person_scope(world["users"][role])
        return set(db.session.execute(select(Person.id).where(condition)).scalars())

    assert visible("enterprise") == set(a)
    assert visible("review") == set(a)  # ent_a belongs to a unit under dept_a
    assert visible("station") == set(a)
    assert visible("center") == set(a) | set(b)


def test_funnel_counts_people_who_reached_each_stage(db, world, make_persons):
    for status in ALL_STATUSES:
        station = world["station_1"] if RANK[status] >= RANK["allocated"] else None
        slot = world["slots"][world["station_1"].id] if status in SLOT_STATUSES else None
        make_persons(world["ent_a"], 1, status=status, station=station, slot=slot)
    figures = funnel_counts()
    assert (figures["declared"], figures["submitted"], figures["allocated"], figures["appointed"],
            figures["checked_in"], figures["vaccinated"]) == (10, 9, 6, 5, 4, 1)
