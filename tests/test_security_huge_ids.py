"""Ids and numbers far outside the integer columns are refused like unknown ids, never a 500.

PostgreSQL refuses a bound value over 2**31-1 for an integer column (NumericValueOutOfRange)
and SQLite one over 2**63-1 (OverflowError): every place that reads an id or a number from
the URL, the query string or a form is probed with 99999999999999999999 as the user who may
use it, and must answer as for an id that does not exist (404, a redirect with a message, or
the page without that filter) and leave the database unchanged.
"""

import pytest

from tests.security_world import ADMIN, CENTER, DEPT_X, ENT_A, STATION_S, snapshot

HUGE = "99999999999999999999"

# (who, method, url, form data)
PROBES = [
    (ENT_A, "GET", "/enterprise/enterprise_persons/details/?id={n}", None),
    (ENT_A, "GET", "/enterprise/enterprise_persons/edit/?id={n}", None),
    (ENT_A, "GET", "/enterprise/enterprise_persons/person/{n}/edit", None),
    (ENT_A, "POST", "/enterprise/enterprise_persons/action/", {"action": "submit", "rowid": "{n}"}),
    (ENT_A, "GET", "/enterprise/enterprise_persons/?page={n}", None),
    (DEPT_X, "GET", "/review/review_persons/?enterprise={n}", None),
    (DEPT_X, "GET", "/review/review_persons/details/?id={n}", None),
    (DEPT_X, "POST", "/review/review_persons/return/", {"rowid": "{n}", "reason": "核对"}),
    (DEPT_X, "POST", "/review/review_persons/all/dept_approve?tab=pending&enterprise={n}", {}),
    (CENTER, "GET", "/center/review/?node=ent:{n}", None),
    (CENTER, "GET", "/center/review/?node=dept:{n}", None),
    (CENTER, "GET", "/center/allocation/choose-station?scope=all&tab=pending&node=ent:{n}", None),
    (CENTER, "POST", "/center/allocation/allocate?tab=pending", {"scope": "all", "station_id": "{n}"}),
    (CENTER, "GET", "/center/appointments/?station={n}", None),
    (CENTER, "GET", "/center/appointments/?slot={n}", None),
    (CENTER, "POST", "/center/appointments/book?station={n}&tab=waiting",
     {"scope": "all", "amount": "1", "first_day": "2026-12-01", "last_day": "2026-12-01"}),
    (CENTER, "POST", "/center/appointments/book?tab=waiting",
     {"scope": "all", "amount": "{n}", "first_day": "2026-12-01", "last_day": "2026-12-01"}),
    (CENTER, "POST", "/center/appointments/cancel", {"slot": "{n}", "reason": "调整"}),
    (CENTER, "POST", "/center/appointments/reschedule", {"target_slot": "{n}", "scope": "all", "reason": "调整"}),
    (CENTER, "GET", "/center/slots/?station={n}", None),
    (CENTER, "POST", "/center/slots/create", {"station": "{n}", "first_day": "2026-12-01",
                                              "last_day": "2026-12-01", "windows": "08:30-10:00", "capacity": "8"}),
    (CENTER, "POST", "/center/slots/create", {"station": "{station_s}", "first_day": "2026-12-01",
                                              "last_day": "2026-12-01", "windows": "08:30-10:00", "capacity": "{n}"}),
    (CENTER, "POST", "/center/slots/{n}/capacity", {"capacity": "8"}),
    (CENTER, "POST", "/center/slots/{spare_slot_s}/capacity", {"capacity": "{n}"}),
    (CENTER, "POST", "/center/slots/{n}/delete", {}),
    (STATION_S, "GET", "/station/?read={n}", None),
    (STATION_S, "GET", "/station/reads/{n}", None),
    (STATION_S, "POST", "/station/check-in", {"person_id": "{n}", "read_id": "{n}"}),
    (STATION_S, "GET", "/station/queue/{n}/", None),
    (STATION_S, "POST", "/station/queue/{n}/vaccinate", {"vaccine_product": "X", "vaccine_lot": "L"}),
    (STATION_S, "POST", "/station/queue/{n}/not-vaccinated", {"reason": "本人拒绝接种"}),
    (STATION_S, "GET", "/station/queue/{n}/signature.png", None),
    (STATION_S, "GET", "/station/appointments/?slot={n}", None),
    (STATION_S, "GET", "/station/appointments/?enterprise={n}", None),
    (STATION_S, "GET", "/station/appointments/people?page={n}", None),
    (STATION_S, "POST", "/station/appointments/act", {"action": "reschedule", "slot_id": "{n}", "scope": "all"}),
    (STATION_S, "GET", "/station/station_persons/details/?id={n}", None),
    (ADMIN, "GET", "/admin/admin_users/manage/{n}/", None),
    (ADMIN, "POST", "/admin/admin_users/manage/{n}/unlock/", {}),
    (ADMIN, "POST", "/admin/admin_users/manage/{n}/reset-password/", {}),
    (ADMIN, "POST", "/admin/admin_users/manage/{n}/active/", {}),
    (ADMIN, "GET", "/admin/admin_users/edit/?id={n}", None),
    (ADMIN, "GET", "/admin/admin_stations/edit/?id={n}", None),
    (ADMIN, "GET", "/admin/admin_departments/edit/?id={n}", None),
    (ADMIN, "GET", "/admin/admin_option_categories/edit/?id={n}", None),
    (ADMIN, "GET", "/admin/admin_audit/details/?id={n}", None),
    (ADMIN, "GET", "/admin/admin_reader_tokens/edit/?id={n}", None),
    (ADMIN, "POST", "/admin/admin_stations/new/", {"name": "巨号接种点", "address": "滨海", "territory_id": "{n}"}),
    (ADMIN, "POST", "/admin/admin_departments/new/", {"name": "巨号部门", "dimension": "industry", "parent_id": "{n}"}),
]


def _fill(value, world, number):
    return value.format(n=number, station_s=world.ids["station_s"], spare_slot_s=world.ids["spare_slot_s"])


@pytest.mark.parametrize("who,method,url,data", PROBES, ids=[f"{p[1]} {p[2]} {p[3] or ''}" for p in PROBES])
def test_a_huge_id_is_not_a_server_error(client, login, db, world, who, method, url, data):
    number = HUGE
    login(world.users[who])
    before = snapshot(db)
    url = _fill(url, world, number)
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data={key: _fill(value, world, number) for key, value in data.items()})
    assert response.status_code < 500, (url, response.status_code)
    assert response.status_code in (200, 302, 400, 404), (url, response.status_code)
    assert snapshot(db) == before
