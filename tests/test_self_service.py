"""我的接种: the employee's own record behind an SMS code, the one change allowed, and no enumeration."""

import re
import statistics
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from models.audit import AuditEvent
from models.base import now
from models.doses import Vaccination
from models.org import AppointmentSlot
from models.person import Person
from models.sms import SmsCode, SmsMessage
from models.vaccines import seed_vaccine_products

PHONE = "13902208888"


@pytest.fixture
def appointed_person(db, make_enterprise, make_station, make_slot, make_persons):
    station = make_station("新河街社区卫生服务中心接种点")
    station.address = "滨海新区新河街道新河路88号"
    slot = make_slot(station, starts_at=datetime(2026, 12, 8, 9, 0), capacity=5)
    [person_id] = make_persons(make_enterprise("滨海港务集团有限公司"), status="appointed", station=station,
                               slot=slot, name="赵建国", phone=PHONE)
    db.session.commit()
    return db.session.get(Person, person_id)


def texted_code(db, phone=PHONE):
    db.session.rollback()
    bodies = db.session.execute(
        select(SmsMessage.body).where(SmsMessage.phone == phone, SmsMessage.kind == "self_service")
        .order_by(SmsMessage.id)
    ).scalars().all()
    return re.search(r"验证码(\d{6})", bodies[-1]).group(1) if bodies else None


def sign_in(client, db, person, phone=PHONE):
    response = client.post("/me/", data={"id_number": person.id_number, "phone": phone})
    assert response.status_code == 302 and response.location.endswith("/me/code")
    response = client.post("/me/code", data={"code": texted_code(db, phone)})
    assert response.status_code == 302 and response.location.endswith("/me/record"), response.get_data(as_text=True)
    return client.get("/me/record").get_data(as_text=True)


def test_the_employee_sees_status_station_address_and_window_after_the_sms_code(client, db, appointed_person):
    page = sign_in(client, db, appointed_person)
    assert "赵建国" in page and "滨海港务集团有限公司" in page
    assert "已预约" in page
    assert "新河街社区卫生服务中心接种点" in page and "滨海新区新河街道新河路88号" in page
    assert "2026-12-08 09:00-10:30" in page
    assert "取消预约" in page
    assert appointed_person.id_number not in client.get_cookie("session").value  # sealed, not in the clear


def test_the_record_lists_each_dose_and_the_next_window(client, db, appointed_person):
    products = seed_vaccine_products()
    db.session.add(Vaccination(person_id=appointed_person.id, dose_number=1, outcome="given", state="valid",
                               product_id=products["新冠病毒灭活疫苗(Vero细胞)"].id, lot_number="L1",
                               station_id=appointed_person.station_id, at=datetime(2026, 11, 3, 9, 30),
                               signature_png=b"\x89PNG"))
    db.session.add(Vaccination(person_id=appointed_person.id, dose_number=2, outcome="not_given", state="valid",
                               reason="发热", station_id=appointed_person.station_id, at=datetime(2026, 11, 28, 9)))
    appointed_person.status = "due_next"
    appointed_person.next_dose_earliest = datetime(2026, 11, 24).date()
    appointed_person.next_dose_latest = datetime(2026, 12, 29).date()
    db.session.commit()
    page = sign_in(client, db, appointed_person)
    assert "待续种" in page
    assert "第1剂" in page and "2026-11-03" in page and "新冠病毒灭活疫苗(Vero细胞)" in page
    assert "第2剂" not in page  # not given: not a dose on the record
    assert "2026-11-24 至 2026-12-29" in page
    assert "查看接种凭证" in page
    certificate = client.get("/me/certificate")
    assert certificate.status_code == 200 and "接种凭证二维码" in certificate.get_data(as_text=True)
    png = client.get("/me/certificate.png")
    assert png.mimetype == "image/png" and png.data[:4] == b"\x89PNG"
    pdf = client.get("/me/certificate.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data[:5] == b"%PDF-"


def test_the_record_shows_the_return_reason(client, db, appointed_person):
    appointed_person.status, appointed_person.return_reason = "registered", "身份证号与姓名不符"
    appointed_person.slot_id = None
    db.session.commit()
    page = sign_in(client, db, appointed_person)
    assert "未提交" in page and "身份证号与姓名不符" in page
    assert "取消预约" not in page


def test_a_wrong_phone_gets_the_same_answer_and_no_message(client, db, appointed_person):
    right = client.post("/me/", data={"id_number": appointed_person.id_number, "phone": PHONE})
    right_page = client.get("/me/code").get_data(as_text=True)
    other = client.application.test_client()
    wrong = other.post("/me/", data={"id_number": appointed_person.id_number, "phone": "13902209999"})
    wrong_page = other.get("/me/code").get_data(as_text=True)
    assert (right.status_code, right.location) == (wrong.status_code, wrong.location)
    assert right_page.replace("139****8888", "139****9999") == wrong_page
    db.session.rollback()
    assert db.session.execute(select(SmsMessage.phone)).scalars().all() == [PHONE]
    assert db.session.execute(select(func.count(SmsCode.id))).scalar_one() == 2  # the limits apply alike
    # Whatever a guesser types for the unknown pair, the record stays closed.
    for guess in ("000000", "123456", "999999"):
        other.post("/me/code", data={"code": guess})
    assert other.get("/me/record").status_code == 302


def test_a_wrong_phone_takes_comparable_time(client, db, make_enterprise, make_persons):
    """Median of many tries: a right pair (which queues a text) against a wrong phone (which does not)."""
    enterprise = make_enterprise()
    count = 15
    ids = make_persons(enterprise, count=2 * count)
    rows = db.session.execute(select(Person.id, Person.id_number).where(Person.id.in_(ids))).all()
    for index, (person_id, _) in enumerate(rows):
        db.session.get(Person, person_id).phone = f"1390000{index:04d}"
    db.session.commit()

    def timed(id_number, phone):
        started = time.perf_counter()
        response = client.application.test_client().post("/me/", data={"id_number": id_number, "phone": phone})
        assert response.status_code == 302
        return time.perf_counter() - started

    right, wrong = [], []
    for index, (_, id_number) in enumerate(rows):
        if index % 2:
            right.append(timed(id_number, f"1390000{index:04d}"))
        else:
            wrong.append(timed(id_number, f"1370000{index:04d}"))
    difference = abs(statistics.median(right) - statistics.median(wrong))
    assert difference < max(0.005, 0.5 * statistics.median(wrong)), (statistics.median(right),
                                                                        statistics.median(wrong))
    db.session.rollback()
    assert db.session.execute(select(func.count(SmsMessage.id))).scalar_one() == count


def test_wrong_codes_burn_the_code_and_resend_is_limited(client, db, appointed_person):
    client.post("/me/", data={"id_number": appointed_person.id_number, "phone": PHONE})
    code = texted_code(db)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    messages = [client.post("/me/code", data={"code": wrong}).get_data(as_text=True) for _ in range(5)]
    assert "验证码错误，还可尝试4次" in messages[0]
    assert "验证码错误次数过多，已失效" in messages[4]
    assert "验证码已失效" in client.post("/me/code", data={"code": code}).get_data(as_text=True)
    assert client.get("/me/record").status_code == 302
    client.post("/me/resend")
    assert "获取验证码过于频繁" in client.get("/me/code").get_data(as_text=True)


def test_a_code_opens_only_the_record_it_was_asked_for(client, db, appointed_person, make_persons):
    """A relative on the same phone: the code texted for one ID number does not open the other's record."""
    from public_forms.self_service import _seal

    [other_id] = make_persons(appointed_person.enterprise, phone=PHONE)
    db.session.commit()
    other = db.session.get(Person, other_id)
    client.post("/me/", data={"id_number": appointed_person.id_number, "phone": PHONE})
    code = texted_code(db)
    with client.session_transaction() as state:
        state["self_service"] = {**state["self_service"], "subject": _seal(other.id_number)}
    assert "验证码错误" in client.post("/me/code", data={"code": code}).get_data(as_text=True)
    assert client.get("/me/record").status_code == 302
    with client.session_transaction() as state:
        state["self_service"] = {**state["self_service"], "subject": "not sealed by us"}
    assert client.post("/me/code", data={"code": code}).location.endswith("/me/")


def test_signing_out_ends_the_session_even_for_a_saved_cookie(client, db, appointed_person):
    sign_in(client, db, appointed_person)
    saved = client.get_cookie("session").value
    client.post("/me/logout")
    assert client.get("/me/record").status_code == 302
    replay = client.application.test_client()
    replay.set_cookie("session", saved)
    assert replay.get("/me/record").location.endswith("/me/")


def test_bad_input_gets_a_clear_message(client, db):
    page = client.post("/me/", data={"id_number": "12345", "phone": PHONE}).get_data(as_text=True)
    assert "身份证号应为18位" in page
    page = client.post("/me/", data={"id_number": "", "phone": ""}).get_data(as_text=True)
    assert "请输入身份证号" in page
    assert db.session.execute(select(func.count(SmsCode.id))).scalar_one() == 0


def test_the_employee_cancels_an_appointment_with_a_reason_the_center_sees(client, db, appointed_person):
    sign_in(client, db, appointed_person)
    slot_id = appointed_person.slot_id
    response = client.post("/me/cancel", data={"reason": "出差在外地"}, follow_redirects=True)
    assert "预约已取消" in response.get_data(as_text=True)
    db.session.rollback()
    person = db.session.get(Person, appointed_person.id)
    assert (person.status, person.slot_id) == ("allocated", None)
    assert db.session.get(AppointmentSlot, slot_id).booked == 0
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "cancel_appointment")).scalar_one()
    assert (event.username, event.role, event.reason) == ("本人", "self", "本人取消：出差在外地")
    assert "取消预约" not in client.get("/me/record").get_data(as_text=True)
    confirmation = db.session.execute(
        select(SmsMessage.body).where(SmsMessage.kind == "appointment_cancel")).scalar_one()
    assert confirmation.startswith("【滨海新区疫苗接种】您已取消在新河街社区卫生服务中心接种点12月8日 09:00-10:30")


def test_cancel_needs_a_reason_and_an_appointment(client, db, appointed_person):
    sign_in(client, db, appointed_person)
    assert "请填写取消原因" in client.post("/me/cancel", data={"reason": " "}, follow_redirects=True).get_data(
        as_text=True)
    db.session.rollback()
    assert db.session.get(Person, appointed_person.id).status == "appointed"
    client.post("/me/cancel", data={"reason": "有事"})
    again = client.post("/me/cancel", data={"reason": "有事"}, follow_redirects=True).get_data(as_text=True)
    assert "无法取消" in again


def test_nothing_is_reachable_without_the_code_and_the_session_expires(client, db, appointed_person, app):
    for path in ("/me/record", "/me/certificate", "/me/certificate.png"):
        assert client.get(path).location.endswith("/me/")
    assert client.post("/me/cancel", data={"reason": "x"}).location.endswith("/me/")
    sign_in(client, db, appointed_person)
    db.session.execute(update(SmsCode).values(verified_at=now() - timedelta(minutes=31)))
    db.session.commit()
    assert client.get("/me/record").location.endswith("/me/")
    db.session.rollback()
    assert db.session.get(Person, appointed_person.id).status == "appointed"


def test_the_booking_text_links_to_my_vaccination_page(app, db, appointed_person):
    from admin_views.notices import appointment_notice, change_notice

    with app.test_request_context("/"):
        for text in (appointment_notice(appointed_person.slot), change_notice(appointed_person.slot)):
            assert text.endswith("查询或取消预约：http://vaccine.example.test/me/")


def test_the_center_and_the_station_see_who_cancelled_and_why(client, db, appointed_person, make_user, make_station,
                                                               login):
    sign_in(client, db, appointed_person)
    client.post("/me/cancel", data={"reason": "出差在外地"})
    client.post("/me/logout")
    center = login(make_user("center"), test_client=client.application.test_client())
    page = center.get("/center/self-cancellations/").get_data(as_text=True)
    assert "赵建国" in page and "出差在外地" in page and "滨海港务集团有限公司" in page
    assert appointed_person.id_number not in page  # masked
    station = login(make_user("station", appointed_person.station), test_client=client.application.test_client())
    assert "出差在外地" in station.get("/station/self-cancellations/").get_data(as_text=True)
    other = login(make_user("station", make_station()), test_client=client.application.test_client())
    page = other.get("/station/self-cancellations/").get_data(as_text=True)
    assert "赵建国" not in page and "暂无本人取消的预约" in page
