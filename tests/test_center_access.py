"""Every page and action of the center console refuses users of other roles (403) and anonymous users."""

import pytest
from sqlalchemy import func, select

from models import AppointmentSlot, Person

GET_URLS = [
    "/center/", "/center/live",
    "/center/review/", "/center/review/?node=dim:industry", "/center/review/tree?node=dept:{dept}",
    "/center/allocation/", "/center/allocation/?tab=allocated",
    "/center/allocation/choose-station?scope=all", "/center/allocation/tree?node=dept:{dept}",
    "/center/appointments/", "/center/appointments/?tab=appointed", "/center/appointments/tree?node=dept:{dept}",
    "/center/slots/",
]
POST_URLS = [
    "/center/review/all/center_approve", "/center/review/action/",
    "/center/allocation/allocate", "/center/allocation/all/cancel_allocation", "/center/allocation/action/",
    "/center/appointments/book", "/center/appointments/cancel", "/center/appointments/reschedule",
    "/center/appointments/action/",
    "/center/slots/create", "/center/slots/{slot}/capacity", "/center/slots/{slot}/delete",
]


@pytest.fixture
def world(make_department, make_enterprise, make_station, make_slot, make_persons, make_user):
    department = make_department()
    enterprise = make_enterprise(department=department)
    station = make_station()
    slot = make_slot(station, capacity=10)
    ids = make_persons(enterprise, 3, status="dept_approved") + make_persons(enterprise, 2, status="allocated",
                                                                            station=station)
    users = {
        "review": make_user("review", department), "station": make_user("station", station),
        "enterprise": make_user("enterprise", enterprise), "admin": make_user("admin"),
    }
    return dict(department=department, station=station, slot=slot, ids=ids, users=users)


def _urls(urls, world):
    return [u.format(dept=world["department"].id, slot=world["slot"].id) for u in urls]


@pytest.mark.parametrize("role", ["review", "station", "enterprise", "admin"])
def test_other_roles_are_refused_every_center_page(client, login, world, role, db):
    login(world["users"][role])
    for url in _urls(GET_URLS, world):
        assert client.get(url).status_code == 403, url
    form = {"scope": "all", "station_id": world["station"].id, "station": world["station"].id, "amount": 5,
            "reason": "x", "rowid": world["ids"], "action": "center_approve", "capacity": 0, "url": "/center/",
            "first_day": "2030-01-01", "last_day": "2030-01-02", "windows": "08:00-09:00", "slot": world["slot"].id}
    for url in _urls(POST_URLS, world):
        assert client.post(url, data=form).status_code == 403, url
    # Nothing moved.
    statuses = select(Person.status, func.count()).where(Person.id.in_(world["ids"])).group_by(Person.status)
    assert dict(db.session.execute(statuses).all()) == {
        "dept_approved": 3, "allocated": 2}


def test_anonymous_users_are_sent_to_the_center_login(client, world, db):
    db.session.commit()
    for url in _urls(GET_URLS, world):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login/center"), url
    for url in _urls(POST_URLS, world):
        assert client.post(url).status_code == 302, url
    slots = db.session.execute(select(AppointmentSlot.capacity)).scalars().all()
    assert slots == [10]
