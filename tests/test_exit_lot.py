"""The exit desk gives a dose out of a lot: scanned 追溯码 or picked lot, stock down by one, 留观 starts."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import now
from models.doses import Vaccination
from models.lots import LotStock, freeze_lot, trace_code_run
from models.observation import Observation
from tests.lot_world import product, received_lot
from tests.test_station_exit import png_data_url

FIRST = "81234560000000070001"


@pytest.fixture
def desk(db, make_station, make_enterprise, make_slot, make_persons, make_user, login):
    station = make_station("追溯测试接种点")
    slot = make_slot(station, starts_at=now() - timedelta(hours=1), minutes=180, capacity=20)
    nurse = make_user("station", station)
    lot = received_lot(nurse, station, packages=3, first_code=FIRST)
    people = make_persons(make_enterprise(), 3, status="checked_in", station=station, slot=slot,
                          checked_in_at=now() - timedelta(minutes=5), product_id=product().id)
    db.session.commit()
    return {"station": station, "nurse": nurse, "lot": lot, "people": people, "client": login(nurse)}


def on_hand(db, desk):
    db.session.expire_all()
    return db.session.execute(select(LotStock.on_hand).where(LotStock.lot_id == desk["lot"].id)).scalar_one()


def vaccinate(desk, person_id, **form):
    return desk["client"].post(f"/station/queue/{person_id}/vaccinate",
                               data={"signature": png_data_url(), **form}, follow_redirects=True)


def test_a_scanned_code_gives_the_dose_from_its_lot_and_starts_the_countdown(db, desk):
    page = desk["client"].get(f"/station/queue/{desk['people'][0]}/").get_data(as_text=True)
    assert 'id="trace-code"' in page and "autofocus" in page and "批号 202611A" in page
    response = vaccinate(desk, desk["people"][0], trace_code=trace_code_run(FIRST, 3)[1])
    assert "已确认接种" in response.get_data(as_text=True)
    assert on_hand(db, desk) == 2
    record = db.session.execute(select(Vaccination).where(Vaccination.person_id == desk["people"][0])).scalar_one()
    assert (record.lot_id, record.lot_number) == (desk["lot"].id, "202611A")
    observation = db.session.execute(select(Observation)).scalar_one()
    assert observation.vaccination_id == record.id
    assert observation.due_at - observation.started_at == timedelta(minutes=30)
    board = desk["client"].get("/station/observation/").get_data(as_text=True)
    assert "测试人员" in board and "observation-left" in board


def test_the_scanner_lookup_answers_the_page(db, desk):
    found = desk["client"].get(f"/station/queue/trace-code?code={FIRST}").get_json()
    assert found["ok"] and found["lot_id"] == desk["lot"].id and "202611A" in found["message"]
    unknown = desk["client"].get("/station/queue/trace-code?code=81234560000000099999")
    assert unknown.status_code == 404 and "未入库登记" in unknown.get_json()["message"]


def test_picking_a_lot_works_too_and_nothing_is_given_without_one(db, desk):
    refused = vaccinate(desk, desk["people"][0])
    assert refused.status_code == 422 and "请扫描疫苗包装上的追溯码，或选择批号" in refused.get_data(as_text=True)
    vaccinate(desk, desk["people"][0], lot_id=str(desk["lot"].id))
    assert on_hand(db, desk) == 2


def test_a_frozen_lot_cannot_be_chosen_from_the_next_request_on(db, desk, make_user):
    freeze_lot(make_user("center"), desk["lot"].id, "召回")
    db.session.commit()
    page = desk["client"].get(f"/station/queue/{desk['people'][0]}/").get_data(as_text=True)
    assert "批号 202611A" not in page and "本站没有可用的批号" in page
    by_code = vaccinate(desk, desk["people"][0], trace_code=FIRST)
    by_pick = vaccinate(desk, desk["people"][1], lot_id=str(desk["lot"].id))
    assert by_code.status_code == by_pick.status_code == 422
    assert "已冻结" in by_code.get_data(as_text=True)
    assert on_hand(db, desk) == 3
    assert db.session.execute(select(func.count()).select_from(Vaccination)).scalar_one() == 0


def test_the_last_dose_goes_once(db, desk, make_persons, make_enterprise):
    extra = make_persons(make_enterprise(), 1, status="checked_in", station=desk["station"],
                         checked_in_at=now(), product_id=product().id)
    db.session.commit()
    for person in desk["people"]:
        vaccinate(desk, person, lot_id=str(desk["lot"].id))
    assert on_hand(db, desk) == 0
    refused = vaccinate(desk, extra[0], trace_code=FIRST)
    assert refused.status_code == 422
    db.session.expire_all()
    person_status = db.session.execute(select(Vaccination).where(Vaccination.person_id == extra[0])).first()
    assert person_status is None and on_hand(db, desk) == 0


def test_with_the_stations_product_list_the_scanned_lot_must_be_that_product(db, desk):
    from models.vaccines import StationProduct, seed_vaccine_products

    products = seed_vaccine_products()
    other = products["重组新冠病毒蛋白疫苗(CHO细胞)"]
    db.session.add_all([StationProduct(station_id=desk["station"].id, product_id=product().id),
                        StationProduct(station_id=desk["station"].id, product_id=other.id)])
    db.session.commit()
    page = desk["client"].get(f"/station/queue/{desk['people'][0]}/").get_data(as_text=True)
    assert 'name="product_id"' in page and 'id="trace-code"' in page
    given = vaccinate(desk, desk["people"][0], product_id=str(product().id), trace_code=FIRST)
    assert "已确认接种" in given.get_data(as_text=True) and on_hand(db, desk) == 2
    mismatch = vaccinate(desk, desk["people"][1], product_id=str(other.id), trace_code=trace_code_run(FIRST, 2)[1])
    assert mismatch.status_code == 422
    assert on_hand(db, desk) == 2
