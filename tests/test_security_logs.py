"""No log line carries a person's name, ID number or phone number.

A whole campaign flow runs through the test client — the employee form, the enterprise's
submit, search by ID number and export, the department's approve and return with a
reason, the center's approve, allocate and book, the station's card read, check-in and
vaccination, a forgotten password — while every log record of every logger is captured
at DEBUG. Then each captured line (message, arguments and traceback) is searched for the
names, ID numbers and phone numbers used.
"""

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select

from models import Person, SmsMessage, now, today
from models.reader import CardRead, ReaderToken
from tests.test_station_exit import png_data_url

PERSONS = "/enterprise/enterprise_persons"
REVIEW = "/review/review_persons/"
FORM_NUMBER, FORM_PHONE, FORM_NAME = "11010519491231002X", "13912345678", "司马安全"
RETURNED_NAME, RETURNED_PHONE = "欧阳退回", "13722223333"
DESK_NAME, DESK_PHONE = "诸葛接种", "13655554444"
OPERATOR_PHONE = "15866667777"


def _form(**values):
    data = {"name": FORM_NAME, "id_number": FORM_NUMBER, "phone": FORM_PHONE, "category": "企业职工",
            "lives_in_binhai": "是", "community": "新河街道·华润橡树湾", "remarks": "", "consent": "1"}
    data.update(values)
    return data


def test_a_whole_flow_logs_no_name_id_number_or_phone(app, client, login, db, caplog, make_department,
                                                       make_enterprise, make_station, make_slot, make_persons,
                                                       make_user):
    caplog.set_level(logging.DEBUG)
    for name in ("binhai", "werkzeug", "flask.app"):
        caplog.set_level(logging.DEBUG, logger=name)
    department = make_department("日志测试行业部门")
    enterprise = make_enterprise("日志测试有限公司", department=department)
    station = make_station("日志测试接种点")
    current_slot = make_slot(station, starts_at=now() - timedelta(minutes=20), minutes=120, capacity=20)
    [returned] = make_persons(enterprise, 1, status="submitted", name=RETURNED_NAME, phone=RETURNED_PHONE)
    [at_desk] = make_persons(enterprise, 1, status="appointed", station=station, slot=current_slot,
                             name=DESK_NAME, phone=DESK_PHONE)
    enterprise_user = make_user("enterprise", enterprise)
    reviewer = make_user("review", department)
    center = make_user("center")
    operator = make_user("station", station, phone=OPERATOR_PHONE)
    db.session.commit()
    people = db.session.execute(select(Person.name, Person.id_number, Person.phone)
                                .where(Person.id.in_([returned, at_desk]))).all()
    secrets = {FORM_NUMBER, FORM_PHONE, FORM_NAME, OPERATOR_PHONE}
    for row in people:
        secrets.update(row)

    # The employee form: a refused answer (bad phone) and then an accepted one.
    assert client.post(f"/e/{enterprise.qr_token}", data=_form(phone="1391234")).status_code == 200
    assert client.post(f"/e/{enterprise.qr_token}", data=_form()).status_code == 302
    [form_person] = db.session.execute(select(Person.id).where(Person.id_number == FORM_NUMBER)).scalars().all()

    # The enterprise submits, searches by ID number and exports.
    login(enterprise_user)
    page = client.post(f"{PERSONS}/all/submit?tab=unsubmitted", follow_redirects=True).get_data(as_text=True)
    assert "已处理 1 人" in page
    found = client.get(f"{PERSONS}/", query_string={"tab": "submitted", "search": FORM_NUMBER})
    assert FORM_NAME in found.get_data(as_text=True)
    assert client.get(f"{PERSONS}/export", query_string={"tab": "submitted", "search": FORM_NUMBER},
                      buffered=True).status_code == 200
    client.get("/logout")

    # The department approves the form's person and returns the other with a reason.
    login(reviewer)
    approved = client.post(REVIEW + "action/", data={"action": "dept_approve", "rowid": [str(form_person)]},
                           follow_redirects=True).get_data(as_text=True)
    assert "已处理 1 人" in approved
    reason = f"{RETURNED_NAME}身份证号不符"
    client.post(REVIEW + "return/", data={"rowid": [str(returned)], "reason": reason})
    assert db.session.get(Person, returned).status == "registered"
    client.get(REVIEW, query_string={"search": FORM_NUMBER})
    client.get("/logout")

    # The center approves, allocates to the station and books tomorrow.
    login(center)
    tomorrow = today() + timedelta(days=1)
    client.post("/center/review/all/center_approve?tab=reviewing", follow_redirects=True)
    client.post("/center/slots/create", data={"station": station.id, "first_day": tomorrow.isoformat(),
                                              "last_day": tomorrow.isoformat(), "windows": "08:30-10:00",
                                              "capacity": 8})
    client.post(f"/center/allocation/allocate?tab=pending&node=ent:{enterprise.id}",
                data={"scope": "all", "station_id": station.id})
    booked = client.post(f"/center/appointments/book?station={station.id}&tab=waiting&node=ent:{enterprise.id}",
                         data={"scope": "all", "amount": 1, "first_day": tomorrow.isoformat(),
                               "last_day": tomorrow.isoformat()}, follow_redirects=True).get_data(as_text=True)
    assert "已预约 1 人" in booked
    assert db.session.get(Person, form_person).status == "appointed"
    client.get("/logout")

    # The station reads the card of the person due now, checks them in and vaccinates them.
    _, token = ReaderToken.issue(station, "日志测试读卡器")
    db.session.commit()
    desk_number = next(number for name, number, _ in people if name == DESK_NAME)
    read = client.post("/api/v1/card-reads", headers={"Authorization": f"Bearer {token}"},
                       json={"read_id": str(uuid.uuid4()), "id_number": desk_number, "reader": "Virtual PCD 00 00",
                             "read_at": now().isoformat()})
    assert read.status_code == 201
    login(operator)
    read_row = db.session.execute(select(CardRead).order_by(CardRead.id.desc())).scalars().first()
    client.get(f"/station/reads/{read_row.id}")
    assert client.post("/station/lookup", data={"id_number": desk_number}).status_code in (200, 302)
    assert client.post("/station/check-in", data={"person_id": at_desk, "read_id": read_row.id}).status_code == 302
    assert client.post(f"/station/queue/{at_desk}/vaccinate", data={
        "vaccine_product": "新冠病毒灭活疫苗(Vero细胞)", "vaccine_lot": "LOG1", "signature": png_data_url()},
    ).status_code == 302
    db.session.expire_all()
    assert db.session.get(Person, at_desk).status == "vaccinated"
    client.get("/logout")

    # A forgotten password, by the operator's phone.
    assert client.post("/forgot-password", data={"phone": OPERATOR_PHONE}).status_code == 302
    assert db.session.execute(select(SmsMessage).where(SmsMessage.phone == OPERATOR_PHONE)).scalars().first()

    assert len(caplog.records) > 20
    leaks = []
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        text += repr(record.args) + repr(getattr(record, "__dict__", {}))
        leaks += [(secret, record.name, record.getMessage()[:200]) for secret in secrets if secret in text]
    assert not leaks, leaks
