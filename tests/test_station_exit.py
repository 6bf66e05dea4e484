"""候诊队列 and 出站确认: waiting times, vaccination with e-signature, not vaccinated with a reason."""

import base64
import io
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from models import AuditEvent, OptionItem, Person, now
from models.options import NOT_VACCINATED_REASON
from services import events


def png_data_url(width=600, height=220, strokes=True, background=(0, 0, 0, 0), fmt="PNG"):
    image = Image.new("RGBA" if fmt == "PNG" else "RGB", (width, height), background if fmt == "PNG" else "white")
    if strokes:
        draw = ImageDraw.Draw(image)
        draw.line([(60, 150), (140, 60), (220, 160), (320, 70), (420, 150)], fill="#111111", width=4)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    mime = "png" if fmt == "PNG" else "jpeg"
    return f"data:image/{mime};base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def exit_desk(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    station = make_station("新河街社区卫生服务中心接种点")
    slot = make_slot(station, starts_at=now() - timedelta(hours=2), minutes=180, capacity=50)
    enterprise = make_enterprise("滨城物流有限公司")
    user = make_user("station", station, username="xinhe")
    current = now()
    long_wait = make_persons(enterprise, 1, status="checked_in", station=station, slot=slot, name="张久等",
                             checked_in_at=current - timedelta(minutes=30, seconds=5))[0]
    short_wait = make_persons(enterprise, 1, status="checked_in", station=station, slot=slot, name="李刚到",
                              checked_in_at=current - timedelta(minutes=10, seconds=5))[0]
    make_persons(enterprise, 1, status="vaccinated", station=station, slot=slot, name="赵已完成",
                 checked_in_at=current - timedelta(minutes=60), finished_at=current - timedelta(minutes=20))
    make_persons(enterprise, 1, status="vaccinated", station=station, slot=slot, name="钱昨天",
                 checked_in_at=current - timedelta(days=1, minutes=300), finished_at=current - timedelta(days=1))
    db.session.commit()
    return {"station": station, "user": user, "long": long_wait, "short": short_wait, "slot": slot,
            "enterprise": enterprise}


def test_queue_lists_waiting_people_longest_first_with_their_wait(client, login, exit_desk):
    login(exit_desk["user"])
    page = client.get("/station/queue/").get_data(as_text=True)
    assert page.index("张久等") < page.index("李刚到")
    assert "赵已完成" not in page and "钱昨天" not in page
    assert 'data-wait-seconds="18' in page  # 30 minutes: 1805 s and a little
    assert "30分钟" in page and "10分钟" in page and "2 人" in page


def test_queue_shows_the_average_and_longest_wait_of_today(client, login, exit_desk):
    """Waits today: 30 and 10 minutes (still waiting), 40 minutes (done); yesterday's does not count."""
    login(exit_desk["user"])
    page = client.get("/station/queue/").get_data(as_text=True)
    assert "今日平均等待 <strong class=\"wait-average\">26分钟</strong>" in page
    assert "最长等待 <strong class=\"wait-longest\">40分钟</strong>" in page


def test_exit_form_offers_the_station_vaccine_and_the_reasons(client, login, exit_desk):
    login(exit_desk["user"])
    page = client.get(f"/station/queue/{exit_desk['long']}/").get_data(as_text=True)
    assert "出站确认" in page and "张久等" in page
    assert 'value="新冠病毒灭活疫苗(Vero细胞)"' in page and 'value="LOT1"' in page
    assert 'id="signature-pad"' in page and "js/signature_pad.js" in page
    for reason in ("发热(体温≥37.3℃)", "本人拒绝接种", "其他"):
        assert f'<option value="{reason}"' in page


def test_vaccination_stores_a_non_empty_signature_with_signer_and_time(app, client, login, db, exit_desk):
    login(exit_desk["user"])
    subscription = events.broker(app).subscribe(events.station_channel(exit_desk["station"].id), timeout=0.05)
    next(subscription)
    response = client.post(f"/station/queue/{exit_desk['long']}/vaccinate", data={
        "vaccine_product": "新冠病毒灭活疫苗(Vero细胞)", "vaccine_lot": "202611B", "signature": png_data_url()})
    assert response.status_code == 302 and response.headers["Location"].endswith("/station/queue/")
    person = db.session.get(Person, exit_desk["long"])
    assert person.status == "vaccinated"
    assert (person.vaccine_product, person.vaccine_lot) == ("新冠病毒灭活疫苗(Vero细胞)", "202611B")
    assert person.finished_by_id == exit_desk["user"].id and person.finished_at is not None
    signature = Image.open(io.BytesIO(person.signature_png))
    assert signature.format == "PNG" and signature.size == (600, 220)
    assert signature.convert("RGBA").getchannel("A").getbbox() is not None  # ink on it
    assert next(item for item in subscription if item is not None) == {"type": "queue"}
    subscription.close()
    queue = client.get("/station/queue/").get_data(as_text=True)
    assert "已确认接种：张久等" in queue and "张久等</td>" not in queue


def test_signature_can_be_viewed_by_the_station_and_the_view_is_audited(client, login, db, exit_desk):
    login(exit_desk["user"])
    client.post(f"/station/queue/{exit_desk['long']}/vaccinate",
                data={"vaccine_product": "X", "vaccine_lot": "L1", "signature": png_data_url()})
    response = client.get(f"/station/queue/{exit_desk['long']}/signature.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG")
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "view_signature")).scalar_one()
    listing = client.get("/station/station_persons/?tab=finished").get_data(as_text=True)
    assert "查看签名" in listing


@pytest.mark.parametrize(("signature", "message"), [
    ("", "请接种人在签名板上签名"),
    (png_data_url(strokes=False), "签名为空"),
    (png_data_url(strokes=False, background=(255, 255, 255, 255)), "签名为空"),
    (png_data_url(fmt="JPEG"), "签名格式不正确"),
    ("data:image/png;base64,not*base64", "签名格式不正确"),
    ("data:image/png;base64," + base64.b64encode(b"GIF89a" + b"0" * 200).decode(), "签名格式不正确"),
    ("data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 200).decode(), "已损坏"),
    (png_data_url(width=40, height=20), "尺寸不正确"),
    (png_data_url(width=5000, height=220), "尺寸不正确"),
    ("data:image/png;base64," + "A" * 600_000, "过大"),
])
def test_a_missing_empty_or_bogus_signature_is_refused(client, login, db, exit_desk, signature, message):
    login(exit_desk["user"])
    response = client.post(f"/station/queue/{exit_desk['long']}/vaccinate",
                           data={"vaccine_product": "X", "vaccine_lot": "L1", "signature": signature})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    person = db.session.get(Person, exit_desk["long"])
    assert person.status == "checked_in" and person.signature_png is None


def test_vaccine_product_and_lot_are_required(client, login, db, exit_desk):
    login(exit_desk["user"])
    response = client.post(f"/station/queue/{exit_desk['long']}/vaccinate",
                           data={"vaccine_product": "X", "vaccine_lot": " ", "signature": png_data_url()})
    assert response.status_code == 422 and "批号" in response.get_data(as_text=True)
    assert db.session.get(Person, exit_desk["long"]).status == "checked_in"


def test_not_vaccinated_with_a_listed_reason(client, login, db, exit_desk):
    login(exit_desk["user"])
    response = client.post(f"/station/queue/{exit_desk['short']}/not-vaccinated",
                           data={"reason": "发热(体温≥37.3℃)"}, follow_redirects=True)
    assert "已记录未接种：李刚到（发热(体温≥37.3℃)）" in response.get_data(as_text=True)
    person = db.session.get(Person, exit_desk["short"])
    assert (person.status, person.not_vaccinated_reason) == ("not_vaccinated", "发热(体温≥37.3℃)")
    assert person.finished_by_id == exit_desk["user"].id


def test_other_reason_needs_words_and_keeps_them(client, login, db, exit_desk):
    login(exit_desk["user"])
    url = f"/station/queue/{exit_desk['short']}/not-vaccinated"
    refused = client.post(url, data={"reason": "其他", "other_reason": "  "})
    assert refused.status_code == 422 and "请填写具体原因" in refused.get_data(as_text=True)
    assert db.session.get(Person, exit_desk["short"]).status == "checked_in"
    client.post(url, data={"reason": "其他", "other_reason": "血压过高，建议改日"})
    assert db.session.get(Person, exit_desk["short"]).not_vaccinated_reason == "其他：血压过高，建议改日"


def test_reasons_follow_the_list_the_admin_edits(client, login, db, exit_desk):
    db.session.add(OptionItem(kind=NOT_VACCINATED_REASON, label="疫苗暂缺", sort_order=99))
    db.session.execute(OptionItem.__table__.update().where(OptionItem.label == "本人拒绝接种").values(active=False))
    db.session.commit()
    login(exit_desk["user"])
    page = client.get(f"/station/queue/{exit_desk['short']}/").get_data(as_text=True)
    assert "疫苗暂缺" in page and "本人拒绝接种" not in page
    url = f"/station/queue/{exit_desk['short']}/not-vaccinated"
    assert client.post(url, data={"reason": "本人拒绝接种"}).status_code == 422
    assert client.post(url, data={"reason": "随便写的"}).status_code == 422
    client.post(url, data={"reason": "疫苗暂缺"})
    assert db.session.get(Person, exit_desk["short"]).not_vaccinated_reason == "疫苗暂缺"


def test_not_vaccinated_person_can_be_given_a_new_appointment(client, login, db, exit_desk, make_slot):
    login(exit_desk["user"])
    client.post(f"/station/queue/{exit_desk['short']}/not-vaccinated", data={"reason": "发热(体温≥37.3℃)"})
    new_slot = make_slot(exit_desk["station"], starts_at=now() + timedelta(days=3), capacity=5)
    db.session.commit()
    client.post("/station/appointments/act", data={"action": "appoint", "slot_id": new_slot.id,
                                                   "person_id": exit_desk["short"], "status": "pending"})
    person = db.session.get(Person, exit_desk["short"])
    assert (person.status, person.slot_id, person.not_vaccinated_reason) == ("appointed", new_slot.id, None)


def test_a_person_already_through_the_exit_cannot_be_confirmed_again(client, login, db, exit_desk):
    login(exit_desk["user"])
    url = f"/station/queue/{exit_desk['long']}/vaccinate"
    data = {"vaccine_product": "X", "vaccine_lot": "L1", "signature": png_data_url()}
    client.post(url, data=data)
    again = client.post(url, data=data)
    assert again.status_code == 409 and "该人员已完成出站确认（已接种" in again.get_data(as_text=True)
    assert client.get(f"/station/queue/{exit_desk['long']}/").status_code == 409


def test_station_sets_its_default_vaccine(client, login, db, exit_desk):
    login(exit_desk["user"])
    client.post("/station/queue/defaults", data={"default_vaccine_product": "重组新冠病毒疫苗(CHO细胞)",
                                                 "default_vaccine_lot": "2026C07"})
    station = db.session.get(type(exit_desk["station"]), exit_desk["station"].id)
    assert (station.default_vaccine_product, station.default_vaccine_lot) == ("重组新冠病毒疫苗(CHO细胞)", "2026C07")
    page = client.get(f"/station/queue/{exit_desk['short']}/").get_data(as_text=True)
    assert 'value="重组新冠病毒疫苗(CHO细胞)"' in page and 'value="2026C07"' in page
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "station_vaccine_defaults")).scalar_one()
    assert event.target_id == station.id and "2026C07" in event.detail


def test_next_opens_whoever_waited_longest_and_never_another_stations_person(client, login, db, exit_desk,
                                                                            make_station, make_persons):
    other = make_station("塘沽街社区卫生服务中心接种点")
    [stranger] = make_persons(exit_desk["enterprise"], 1, status="checked_in", station=other, name="孙外站",
                              checked_in_at=now() - timedelta(hours=3))
    db.session.commit()
    login(exit_desk["user"])
    first = client.post("/station/queue/next")
    assert first.headers["Location"].endswith(f"/station/queue/{exit_desk['long']}/")
    after = client.post("/station/queue/next", data={"after": exit_desk["long"]})
    assert after.headers["Location"].endswith(f"/station/queue/{exit_desk['short']}/")
    alone = client.post("/station/queue/next", data={"after": exit_desk["short"]})
    assert alone.headers["Location"].endswith(f"/station/queue/{exit_desk['long']}/")
    db.session.execute(Person.__table__.update().where(Person.id == exit_desk["long"]).values(status="vaccinated"))
    db.session.commit()
    last = client.post("/station/queue/next", data={"after": exit_desk["short"]},
                       follow_redirects=True).get_data(as_text=True)
    assert "候诊队列中没有其他人员" in last and "出站确认 · 李刚到" in last
    db.session.execute(Person.__table__.update().where(Person.id == exit_desk["short"]).values(status="vaccinated"))
    db.session.commit()
    empty = client.post("/station/queue/next", data={"after": stranger}, follow_redirects=True).get_data(as_text=True)
    assert "当前没有候诊人员" in empty and "候诊队列中没有其他人员" not in empty and "孙外站" not in empty


def test_next_claims_only_on_a_post_a_get_answers_405_and_claims_nobody(client, login, db, exit_desk):
    # A cross-site image or link opened in a logged-in nurse's browser is a GET: it must not claim.
    login(exit_desk["user"])
    assert client.get("/station/queue/next").status_code == 405
    assert client.get(f"/station/queue/next?after={exit_desk['long']}").status_code == 405
    db.session.expire_all()
    assert db.session.get(Person, exit_desk["long"]).exit_claimed_by_id is None
    # The pages' 下一位 is a form's button posting to it, with the CSRF token field.
    for path in ("/station/queue/", f"/station/queue/{exit_desk['long']}/"):
        page = client.get(path).get_data(as_text=True)
        assert 'method="post" action="/station/queue/next"' in page and 'name="csrf_token"' in page
        assert 'data-next-key="F2"' in page and 'href="/station/queue/next' not in page
    assert f'name="after" value="{exit_desk["long"]}"' in page


# ---------------------------------------------------------------- 下一位 with two exit desks

def test_two_nurses_pressing_next_get_different_people_and_a_left_claim_expires(app, client, login, db, exit_desk,
                                                                                make_user):
    other_nurse = make_user("station", exit_desk["station"], username="xinhe_exit2")
    second = app.test_client()
    login(exit_desk["user"])
    login(other_nurse, test_client=second)
    assert client.post("/station/queue/next").headers["Location"].endswith(f"/station/queue/{exit_desk['long']}/")
    assert second.post("/station/queue/next").headers["Location"].endswith(f"/station/queue/{exit_desk['short']}/")
    assert second.post("/station/queue/next").headers["Location"].endswith(f"/station/queue/{exit_desk['short']}/")
    busy = client.post("/station/queue/next", data={"after": exit_desk["long"]},
                       follow_redirects=True).get_data(as_text=True)
    assert "其余候诊人员正由其他工作人员处理" in busy and "出站确认 · 张久等" in busy
    # The first nurse's claim left alone past its time: the person is offered again.
    db.session.execute(Person.__table__.update().where(Person.id == exit_desk["long"])
                       .values(exit_claimed_at=now() - timedelta(minutes=11)))
    db.session.commit()
    moved_on = second.post("/station/queue/next", data={"after": exit_desk["short"]})
    assert moved_on.headers["Location"].endswith(f"/station/queue/{exit_desk['long']}/")


@pytest.mark.postgres_only
def test_next_pressed_at_the_same_moment_on_two_connections_claims_two_people(app, db, is_postgres, exit_desk,
                                                                              make_user):
    import threading

    from extensions import db as _db
    from models import User
    from models.exit_queue import claim_next_person

    if not is_postgres:
        pytest.skip("needs PostgreSQL: SQLite serialises writers and hides races")
    nurses = [exit_desk["user"].id, make_user("station", exit_desk["station"], username="xinhe_exit3").id]
    db.session.commit()
    barrier = threading.Barrier(2)
    claimed, errors = [], []

    def press(nurse_id):
        try:
            with app.app_context():
                nurse = _db.session.get(User, nurse_id)
                barrier.wait(timeout=10)
                claimed.append(claim_next_person(nurse))
                # Both claims are open at once: neither may see the other's person as free.
                barrier.wait(timeout=10)
                _db.session.commit()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=press, args=(nurse,)) for nurse in nurses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(claimed) == sorted([exit_desk["long"], exit_desk["short"]])


def test_a_stale_exit_link_says_the_person_was_handled_and_leads_back_to_the_queue(client, login, db, exit_desk,
                                                                                   make_station, make_persons):
    login(exit_desk["user"])
    form = {"reason": "发热(体温≥37.3℃)"}
    assert client.post(f"/station/queue/{exit_desk['long']}/not-vaccinated", data=form).status_code == 302
    stale = client.get(f"/station/queue/{exit_desk['long']}/")
    page = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert "出站确认 · 张久等" in page and "该人员已完成出站确认（未接种" in page
    assert 'href="/station/queue/"' in page and "返回候诊队列" in page
    again = client.post(f"/station/queue/{exit_desk['long']}/not-vaccinated", data=form)
    assert again.status_code == 409 and "该人员已完成出站确认" in again.get_data(as_text=True)
    assert db.session.get(Person, exit_desk["long"]).not_vaccinated_reason == "发热(体温≥37.3℃)"
    [appointed] = make_persons(exit_desk["enterprise"], 1, status="appointed", station=exit_desk["station"],
                               name="周未到")
    db.session.commit()
    early = client.get(f"/station/queue/{appointed}/").get_data(as_text=True)
    assert "该人员不在候诊队列中（当前状态：已预约）" in early
    [stranger] = make_persons(exit_desk["enterprise"], 1, status="vaccinated", station=make_station("大港接种点"))
    db.session.commit()
    assert client.get(f"/station/queue/{stranger}/").status_code == 404
