"""疫苗品种 in the consoles: the admin edits schedules, the center picks station products, the desk records doses."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, Person, Vaccination, now
from models.vaccines import StationProduct, VaccineProduct, seed_vaccine_products, set_station_products
from tests.test_station_exit import png_data_url

VERO, CHO, AD5 = "新冠病毒灭活疫苗(Vero细胞)", "重组新冠病毒蛋白疫苗(CHO细胞)", "腺病毒载体新冠疫苗(Ad5-nCoV)"


@pytest.fixture
def products(db):
    return seed_vaccine_products()


def _product_form(**values):
    form = {"name": "测试疫苗(Vero细胞)", "manufacturer": "测试生物", "code": "TEST-1", "primary_doses": "2",
            "booster_after_days": "180", "active": "y"}
    form.update(values)
    return form


def test_the_admin_adds_a_product_with_its_schedule(client, login, make_user, db):
    login(make_user("admin"))
    refused = client.post("/admin/admin_vaccines/new/", data=_product_form())
    assert "请填写第2剂距上一剂最少天数" in refused.get_data(as_text=True)
    assert db.session.execute(select(VaccineProduct)).first() is None
    done = client.post("/admin/admin_vaccines/new/", data=_product_form(**{
        "dose2_min": "21", "dose2_max": "56"}))
    assert done.status_code == 302
    product = db.session.execute(select(VaccineProduct)).scalar_one()
    assert (product.primary_doses, [(r.dose_number, r.min_interval_days, r.max_interval_days)
                                    for r in product.rules]) == (2, [(2, 21, 56)])
    extra = client.post(f"/admin/admin_vaccines/edit/?id={product.id}", data=_product_form(
        dose2_min="21", dose2_max="56", dose3_min="28"))
    assert "基础免疫为 2 剂，不应填写第3剂的间隔" in extra.get_data(as_text=True)
    edit = client.get(f"/admin/admin_vaccines/edit/?id={product.id}").get_data(as_text=True)
    assert 'name="dose2_min" type="number" value="21"' in edit or 'value="21"' in edit
    listing = client.get("/admin/admin_vaccines/").get_data(as_text=True)
    assert "第2剂：上一剂后 21–56 天" in listing and "全程后 180 天起" in listing
    assert db.session.execute(select(AuditEvent.action).where(
        AuditEvent.target_type == "vaccine_product")).scalar_one() == "vaccine_product_created"


def test_the_center_chooses_what_each_station_gives(client, login, make_user, make_station, products, db):
    station = make_station("新港接种点")
    login(make_user("center"))
    page = client.get("/center/vaccines/").get_data(as_text=True)
    assert VERO in page and "第2剂：上一剂后 21–56 天" in page and "新港接种点" in page
    answer = client.post(f"/center/vaccines/station/{station.id}",
                         data={"product": [str(products[VERO].id), str(products[AD5].id)]}, follow_redirects=True)
    assert "新增 2 个品种" in answer.get_data(as_text=True)
    given = set(db.session.execute(select(StationProduct.product_id).where(StationProduct.station_id == station.id))
                .scalars())
    assert given == {products[VERO].id, products[AD5].id}
    bad = client.post(f"/center/vaccines/station/{station.id}", data={"product": ["999999", "x"]},
                      follow_redirects=True)
    assert "所选疫苗品种不存在" in bad.get_data(as_text=True)
    audited = db.session.execute(select(AuditEvent.action).where(AuditEvent.action == "station_products"))
    assert audited.scalars().all() == ["station_products"]


@pytest.fixture
def desk(db, make_station, make_enterprise, make_slot, make_persons, make_user, products):
    station = make_station("新河接种点")
    slot = make_slot(station, starts_at=now() - timedelta(hours=1), minutes=180, capacity=20)
    enterprise = make_enterprise()
    center = make_user("center")
    set_station_products(center, station, [products[VERO].id, products[AD5].id])
    first = make_persons(enterprise, 1, status="checked_in", station=station, slot=slot, name="王首针",
                         checked_in_at=now())[0]
    second_cho = make_persons(enterprise, 1, status="checked_in", station=station, slot=slot, name="孙二针",
                              checked_in_at=now(), product_id=products[CHO].id, dose_number=2, doses_given=1)[0]
    second_vero = make_persons(enterprise, 1, status="checked_in", station=station, slot=slot, name="周二针",
                               checked_in_at=now(), product_id=products[VERO].id, dose_number=2, doses_given=1)[0]
    db.session.commit()
    return dict(station=station, user=make_user("station", station), first=first, second_cho=second_cho,
                second_vero=second_vero)


def _vaccinate(client, person_id, product_id):
    return client.post(f"/station/queue/{person_id}/vaccinate", data={
        "product_id": str(product_id), "vaccine_lot": "202612A", "signature": png_data_url()})


def test_the_exit_desk_offers_the_stations_products_and_records_dose_one(client, login, desk, products, db):
    login(desk["user"])
    page = client.get(f"/station/queue/{desk['first']}/").get_data(as_text=True)
    assert "第1剂" in page and f'<option value="{products[VERO].id}"' in page
    assert f'<option value="{products[CHO].id}"' not in page  # not given at this station
    assert _vaccinate(client, desk["first"], products[CHO].id).status_code == 422
    answer = _vaccinate(client, desk["first"], products[VERO].id)
    assert answer.status_code == 302
    person = db.session.get(Person, desk["first"])
    assert (person.status, person.product_id, person.dose_number) == ("due_next", products[VERO].id, 2)
    record = db.session.execute(select(Vaccination).where(Vaccination.person_id == person.id)).scalar_one()
    assert (record.dose_number, record.lot_number, record.product_id) == (1, "202612A", products[VERO].id)
    assert record.signature_png and record.station_id == desk["station"].id


def test_the_exit_desk_gives_the_next_dose_of_the_same_product_only(client, login, desk, products, db):
    login(desk["user"])
    page = client.get(f"/station/queue/{desk['second_vero']}/").get_data(as_text=True)
    assert "第2剂" in page and f'<option value="{products[AD5].id}"' not in page
    assert _vaccinate(client, desk["second_vero"], products[AD5].id).status_code == 422
    assert _vaccinate(client, desk["second_vero"], products[VERO].id).status_code == 302
    assert db.session.get(Person, desk["second_vero"]).status == "vaccinated"
    # This station does not give CHO: the desk says so and records nothing.
    page = client.get(f"/station/queue/{desk['second_cho']}/").get_data(as_text=True)
    assert "本站不提供该人员前剂次的疫苗品种" in page
    refused = _vaccinate(client, desk["second_cho"], products[VERO].id)
    assert refused.status_code == 422 and "本站不提供该人员的疫苗品种" in refused.get_data(as_text=True)
    assert db.session.get(Person, desk["second_cho"]).status == "checked_in"
