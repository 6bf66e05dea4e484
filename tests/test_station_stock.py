"""The station's 疫苗库存 console: 入库, 报损, 调拨 and 日结 as a nurse uses them."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models.base import today
from models.lots import LotStock, StockDayClose, StockMovement, VaccineLot, take_from_stock
from models.vaccines import seed_vaccine_products

CODE = "81234560000000030001"


@pytest.fixture
def product(db):
    return seed_vaccine_products()["新冠病毒灭活疫苗(Vero细胞)"]


@pytest.fixture
def nurse_client(make_station, make_user, login):
    station = make_station("库存测试接种点")
    nurse = make_user("station", station)
    return station, nurse, login(nurse)


def receipt(product, **overrides):
    form = {"product_id": str(product.id), "manufacturer": "北京生物制品研究所有限责任公司", "lot_number": "202612A",
            "expiry_date": (today() + timedelta(days=300)).isoformat(), "doses_per_package": "1",
            "arrival_temperature": "4.5", "first_code": CODE, "packages": "20"}
    form.update(overrides)
    return form


def stock_of(db, station):
    return db.session.execute(select(func.coalesce(func.sum(LotStock.on_hand), 0)).where(
        LotStock.station_id == station.id)).scalar_one()


def test_receiving_shows_the_lot_in_stock(db, nurse_client, product):
    station, _, client = nurse_client
    response = client.post("/station/stock/receive", data=receipt(product), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "已入库：批号 202612A，20 个包装共 20 剂" in page
    assert '<td class="on-hand">20</td>' in page
    assert stock_of(db, station) == 20


def test_a_scanned_list_of_codes_sets_the_number_of_packages(db, nurse_client, product):
    station, _, client = nurse_client
    codes = "\r\n".join(f"8123456000000004000{i}" for i in range(1, 4))
    client.post("/station/stock/receive", data=receipt(product, first_code="", packages="", trace_codes=codes,
                                                      doses_per_package="2"))
    assert stock_of(db, station) == 6


@pytest.mark.parametrize("overrides, message", [
    ({"arrival_temperature": "12"}, "超出冷链范围"),
    ({"expiry_date": "2020-01-01"}, "过期"),
    ({"expiry_date": "明天"}, "有效期"),
    ({"product_id": "999999"}, "疫苗品种"),
    ({"first_code": "", "packages": ""}, "追溯码"),
    ({"first_code": "123"}, "20位"),
    ({"doses_per_package": "0"}, "每包装剂次数"),
])
def test_a_bad_receipt_says_why_and_changes_nothing(db, nurse_client, product, overrides, message):
    station, _, client = nurse_client
    response = client.post("/station/stock/receive", data=receipt(product, **overrides))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert stock_of(db, station) == 0


def test_waste_and_transfer_from_the_console(db, nurse_client, product, make_station):
    station, _, client = nurse_client
    other = make_station("调入测试接种点")
    client.post("/station/stock/receive", data=receipt(product))
    lot_id = db.session.execute(select(VaccineLot.id)).scalar_one()
    page = client.post("/station/stock/waste", data={"lot_id": lot_id, "count": "2", "reason": "破损"},
                       follow_redirects=True).get_data(as_text=True)
    assert "已报损 2 剂（破损）" in page
    page = client.post("/station/stock/transfer", data={"lot_id": lot_id, "count": "5", "to_station_id": other.id},
                       follow_redirects=True).get_data(as_text=True)
    assert "已调拨 5 剂至 调入测试接种点" in page
    response = client.post("/station/stock/transfer", data={"lot_id": lot_id, "count": "50",
                                                            "to_station_id": other.id})
    assert response.status_code == 422 and "库存不足" in response.get_data(as_text=True)
    assert (stock_of(db, station), stock_of(db, other)) == (13, 5)


def test_day_close_balances_and_a_variance_needs_an_explanation(db, nurse_client, product, make_station):
    station, nurse, client = nurse_client
    client.post("/station/stock/receive", data=receipt(product))
    lot_id = db.session.execute(select(VaccineLot.id)).scalar_one()
    take_from_stock(nurse, station.id, lot_id, 3)
    db.session.commit()
    page = client.get("/station/stock/day-close").get_data(as_text=True)
    assert "未日结" in page and '<td class="book-closing">17</td>' in page
    refused = client.post("/station/stock/day-close", data={"day": today().isoformat(), f"counted_{lot_id}": "16"},
                          follow_redirects=True).get_data(as_text=True)
    assert "实盘 16 剂与账面 17 剂不符，请填写差异说明" in refused
    assert db.session.execute(select(func.count()).select_from(StockDayClose)).scalar_one() == 0
    done = client.post("/station/stock/day-close", data={
        "day": today().isoformat(), f"counted_{lot_id}": "16", f"explanation_{lot_id}": "一支安瓿跌落破损未登记"},
        follow_redirects=True).get_data(as_text=True)
    assert "已日结" in done and "1 个批号有差异" in done
    close = db.session.execute(select(StockDayClose)).scalar_one()
    assert (close.opening, close.received, close.given, close.book_closing, close.counted) == (0, 20, 3, 17, 16)
    assert close.signed_by_id == nurse.id
    assert stock_of(db, station) == 16
    assert db.session.execute(select(StockMovement.delta).where(StockMovement.kind == "adjust")).scalar_one() == -1
    again = client.post("/station/stock/day-close", data={"day": today().isoformat(), f"counted_{lot_id}": "16"},
                        follow_redirects=True).get_data(as_text=True)
    assert "该日已日结" in again


def test_the_next_day_opens_with_what_was_counted(db, nurse_client, product):
    station, nurse, client = nurse_client
    client.post("/station/stock/receive", data=receipt(product))
    lot_id = db.session.execute(select(VaccineLot.id)).scalar_one()
    yesterday = today() - timedelta(days=1)
    db.session.execute(StockMovement.__table__.update().values(at=StockMovement.at - timedelta(days=1)))
    db.session.commit()
    client.post("/station/stock/day-close", data={"day": yesterday.isoformat(), f"counted_{lot_id}": "18",
                                                  f"explanation_{lot_id}": "盘点少2剂"})
    take_from_stock(nurse, station.id, lot_id, 1)
    db.session.commit()
    page = client.get("/station/stock/day-close").get_data(as_text=True)
    assert '<td class="book-closing">17</td>' in page
    assert "<td>18</td>" in page


def test_another_station_cannot_see_or_move_this_stock(db, nurse_client, product, make_station, make_user, login,
                                                       app):
    station, _, client = nurse_client
    client.post("/station/stock/receive", data=receipt(product))
    lot_id = db.session.execute(select(VaccineLot.id)).scalar_one()
    other = make_station()
    stranger = login(make_user("station", other), test_client=app.test_client())
    assert "202612A" not in stranger.get("/station/stock/").get_data(as_text=True)
    response = stranger.post("/station/stock/waste", data={"lot_id": lot_id, "count": "1", "reason": "破损"})
    assert response.status_code == 422
    assert stock_of(db, station) == 20
