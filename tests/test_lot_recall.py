"""Recall: the center freezes a lot, lists and exports its recipients, and queues a message to them."""

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models.lots import StockError, pickable_lots
from models.recall import recipients_page
from models.sms import SmsMessage
from tests.lot_world import received_lot, record_doses


@pytest.fixture
def world(db, make_station, make_user, make_enterprise, make_persons):
    station = make_station("召回测试接种点")
    nurse = make_user("station", station)
    lot = received_lot(nurse, station)
    enterprise = make_enterprise("召回测试企业有限公司")
    people = make_persons(enterprise, 3, status="vaccinated", station=station)
    record_doses(people, lot, station)
    center = make_user("center")
    return {"station": station, "nurse": nurse, "lot": lot, "people": people, "center": center}


def test_a_frozen_lot_disappears_from_the_desk_at_once(db, world, login):
    client = login(world["center"])
    page = client.post(f"/center/lots/{world['lot'].id}/freeze", data={"reason": "疑似异常反应，暂停使用"},
                       follow_redirects=True).get_data(as_text=True)
    assert "已冻结：各接种点从现在起不能再使用该批号" in page
    assert pickable_lots(world["station"].id) == []
    again = client.post(f"/center/lots/{world['lot'].id}/freeze", data={"reason": "x"},
                        follow_redirects=True).get_data(as_text=True)
    assert "已冻结" in again and "该批号不存在或已冻结" in again
    missing_reason = client.post(f"/center/lots/{world['lot'].id}/unfreeze", data={"reason": ""},
                                 follow_redirects=True).get_data(as_text=True)
    assert "请填写解除冻结的原因" in missing_reason


def test_the_recipients_list_is_masked_and_the_export_is_full(db, world, login):
    client = login(world["center"])
    page = client.get(f"/center/lots/{world['lot'].id}/recipients").get_data(as_text=True)
    assert '<strong id="recipient-total">3</strong>' in page
    assert "召回测试企业有限公司" in page and "139****5678" in page and "13912345678" not in page
    response = client.get(f"/center/lots/{world['lot'].id}/recipients.xlsx")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("姓名", "身份证号", "联系电话", "企业", "接种日期", "剂次", "接种点")
    assert len(rows) == 4
    assert rows[1][2] == "13912345678" and len(rows[1][1]) == 18 and rows[1][6] == "召回测试接种点"


def test_the_list_pages_by_keyset(db, world, make_persons, make_enterprise):
    more = make_persons(make_enterprise(), 60, status="vaccinated", station=world["station"])
    record_doses(more, world["lot"], world["station"])
    first, after = recipients_page(world["center"], world["lot"].id)
    second, end = recipients_page(world["center"], world["lot"].id, after=after)
    assert (len(first), len(second), end) == (50, 13, None)
    assert {r.id for r in first}.isdisjoint(r.id for r in second)
    with pytest.raises(StockError):
        recipients_page(world["nurse"], world["lot"].id)


def test_the_recall_message_is_queued_once_per_phone(db, world, login):
    client = login(world["center"])
    page = client.post(f"/center/lots/{world['lot'].id}/sms", data={"body": "请留意随访电话"},
                       follow_redirects=True).get_data(as_text=True)
    # The three test persons share one phone number: one message.
    assert "已加入短信发送队列：1 人" in page, page[page.find("alert-success"):page.find("alert-success") + 600]
    queued = db.session.execute(select(SmsMessage.status, SmsMessage.kind, func.count())
                                .group_by(SmsMessage.status, SmsMessage.kind)).all()
    assert queued == [("queued", "recall", 1)]


def test_stations_cannot_reach_the_recall_pages(db, world, login):
    client = login(world["nurse"])
    assert client.get(f"/center/lots/{world['lot'].id}/recipients").status_code in (302, 403)
    assert client.get(f"/center/lots/{world['lot'].id}/recipients.xlsx").status_code in (302, 403)


def test_the_center_sees_every_stations_stock_and_close_state(db, world, login):
    page = login(world["center"]).get("/center/stock/").get_data(as_text=True)
    assert "召回测试接种点" in page
    assert "未日结" in page or "无需日结" in page
