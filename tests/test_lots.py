"""Lots and station stock: receipt with its cold-chain check, trace codes, giving, waste, transfer, freeze."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from models.audit import AuditEvent
from models.base import today
from models.lots import (
    LotPackage,
    LotStock,
    StockError,
    StockMovement,
    VaccineLot,
    freeze_lot,
    parse_trace_codes,
    pickable_lots,
    receive_lot,
    resolve_trace_code,
    take_from_stock,
    trace_code_run,
    transfer_stock,
    unfreeze_lot,
    waste_stock,
)
from models.user import User
from models.vaccines import seed_vaccine_products

FIRST_CODE = "81234560000000010001"


@pytest.fixture
def product(db):
    return seed_vaccine_products()["新冠病毒灭活疫苗(Vero细胞)"]


@pytest.fixture
def receive(product):
    def do(actor, station, lot_number="202611A", packages=10, doses_per_package=1, temperature="5.0",
           expiry=None, codes=()):
        return receive_lot(actor, station.id, product_id=product.id, manufacturer="北京生物制品研究所有限责任公司",
                           lot_number=lot_number, expiry_date=expiry or today() + timedelta(days=200),
                           doses_per_package=doses_per_package, packages=packages, arrival_temperature=temperature,
                           trace_codes=codes)
    return do


def on_hand(station, lot_id):
    return _db.session.execute(select(LotStock.on_hand).where(
        LotStock.station_id == station.id, LotStock.lot_id == lot_id)).scalar_one_or_none()


def test_receiving_adds_doses_and_registers_every_package_code(db, make_station, make_user, receive):
    station = make_station()
    nurse = make_user("station", station)
    codes = trace_code_run(FIRST_CODE, 4)
    movement = receive(nurse, station, packages=4, doses_per_package=2, codes=codes)
    assert on_hand(station, movement.lot_id) == 8
    assert codes[-1] == "81234560000000010004"
    assert resolve_trace_code(" 8123-4560-0000-0001-0003\r").id == movement.lot_id
    assert db.session.execute(select(func.count()).select_from(LotPackage)).scalar_one() == 4
    assert db.session.execute(select(AuditEvent.action).where(AuditEvent.target_id == movement.lot_id)
                              ).scalars().all() == ["stock_receive"]


def test_a_warm_delivery_is_refused_and_changes_nothing(db, make_station, make_user, receive):
    station = make_station()
    nurse = make_user("station", station)
    with pytest.raises(StockError, match="超出冷链范围"):
        receive(nurse, station, temperature="9.5")
    with pytest.raises(StockError, match="到货温度"):
        receive(nurse, station, temperature="冷")
    assert db.session.execute(select(func.count()).select_from(LotStock)).scalar_one() == 0


def test_a_code_registered_twice_refuses_the_second_receipt(db, make_station, make_user, receive):
    station = make_station()
    nurse = make_user("station", station)
    receive(nurse, station, packages=2, codes=trace_code_run(FIRST_CODE, 2))
    with pytest.raises(StockError, match="已登记过"):
        receive(nurse, station, lot_number="202611B", packages=2, codes=trace_code_run(FIRST_CODE, 2))
    with pytest.raises(StockError, match="数量"):
        receive(nurse, station, packages=3, codes=parse_trace_codes("81234560000000020001\n81234560000000020002"))
    with pytest.raises(StockError, match="20位"):
        parse_trace_codes("1234")
    with pytest.raises(StockError, match="重复"):
        parse_trace_codes("81234560000000020001 81234560000000020001")
    with pytest.raises(StockError, match="未入库"):
        resolve_trace_code("81234560000000099999")


def test_the_same_lot_number_with_another_expiry_is_refused(db, make_station, make_user, receive):
    station = make_station()
    nurse = make_user("station", station)
    receive(nurse, station)
    with pytest.raises(StockError, match="不一致"):
        receive(nurse, station, expiry=today() + timedelta(days=10))


def test_giving_decrements_and_refuses_below_zero(db, make_station, make_user, receive):
    station = make_station()
    nurse = make_user("station", station)
    lot_id = receive(nurse, station, packages=2).lot_id
    take_from_stock(nurse, station.id, lot_id, 2)
    assert on_hand(station, lot_id) == 0
    with pytest.raises(StockError, match="库存不足"):
        take_from_stock(nurse, station.id, lot_id, 1)
    assert on_hand(station, lot_id) == 0
    kinds = db.session.execute(select(StockMovement.kind, StockMovement.delta).order_by(StockMovement.id)).all()
    assert kinds == [("receive", 2), ("give", -2)]


def test_another_stations_account_cannot_touch_the_stock(db, make_station, make_user, receive):
    station, other = make_station(), make_station()
    lot_id = receive(make_user("station", station), station).lot_id
    stranger = make_user("station", other)
    for attempt in (lambda: take_from_stock(stranger, station.id, lot_id, 1),
                    lambda: waste_stock(stranger, station.id, lot_id, 1, "破损"),
                    lambda: transfer_stock(stranger, station.id, other.id, lot_id, 1)):
        with pytest.raises(StockError, match="无权"):
            attempt()
    assert on_hand(station, lot_id) == 10


def test_a_frozen_lot_cannot_be_given_or_picked_but_can_be_written_off(db, make_station, make_user, receive):
    station = make_station()
    nurse, center = make_user("station", station), make_user("center")
    lot_id = receive(nurse, station).lot_id
    assert [lot.id for lot, _ in pickable_lots(station.id)] == [lot_id]
    with pytest.raises(StockError, match="防控中心"):
        freeze_lot(nurse, lot_id, "召回")
    freeze_lot(center, lot_id, "疑似异常反应聚集，暂停使用")
    assert pickable_lots(station.id) == []
    with pytest.raises(StockError, match="已冻结"):
        take_from_stock(nurse, station.id, lot_id, 1)
    waste_stock(nurse, station.id, lot_id, 10, "过期", "召回销毁")
    assert on_hand(station, lot_id) == 0
    unfreeze_lot(center, lot_id, "调查排除")
    assert db.session.get(VaccineLot, lot_id).frozen_at is None


def test_an_expired_lot_cannot_be_given(db, make_station, make_user, receive):
    station = make_station()
    nurse = make_user("station", station)
    lot_id = receive(nurse, station).lot_id
    db.session.get(VaccineLot, lot_id).expiry_date = today() - timedelta(days=1)
    db.session.flush()
    with pytest.raises(StockError, match="过期"):
        take_from_stock(nurse, station.id, lot_id, 1)
    assert pickable_lots(station.id) == []


def test_waste_needs_a_listed_reason(db, make_station, make_user, receive):
    station = make_station()
    nurse = make_user("station", station)
    lot_id = receive(nurse, station).lot_id
    with pytest.raises(StockError, match="报损原因"):
        waste_stock(nurse, station.id, lot_id, 1, "丢了")
    waste_stock(nurse, station.id, lot_id, 1, "开启未用完")
    assert on_hand(station, lot_id) == 9


def test_transfer_moves_doses_between_stations(db, make_station, make_user, receive):
    station, other = make_station(), make_station()
    nurse = make_user("station", station)
    lot_id = receive(nurse, station).lot_id
    transfer_stock(nurse, station.id, other.id, lot_id, 4)
    assert (on_hand(station, lot_id), on_hand(other, lot_id)) == (6, 4)
    with pytest.raises(StockError, match="库存不足"):
        transfer_stock(nurse, station.id, other.id, lot_id, 7)
    with pytest.raises(StockError, match="不能相同"):
        transfer_stock(nurse, station.id, station.id, lot_id, 1)
    assert (on_hand(station, lot_id), on_hand(other, lot_id)) == (6, 4)


@pytest.mark.postgres_only
def test_concurrent_desks_never_drive_stock_below_zero(app, db, is_postgres, make_station, make_user, receive):
    if not is_postgres:
        pytest.skip("needs PostgreSQL: SQLite serialises writers and hides races")
    station = make_station()
    nurses = [make_user("station", station).id for _ in range(6)]
    lot_id = receive(_db.session.get(User, nurses[0]), station, packages=25).lot_id
    station_id = station.id
    db.session.commit()
    barrier = threading.Barrier(6)
    given, refused, errors = [], [], []

    def desk(nurse_id):
        with app.app_context():
            actor = _db.session.get(User, nurse_id)
            barrier.wait(timeout=10)
            for _ in range(10):
                try:
                    take_from_stock(actor, station_id, lot_id, 1)
                    _db.session.commit()
                    given.append(1)
                except StockError:
                    _db.session.rollback()
                    refused.append(1)
                except Exception as error:  # noqa: BLE001 - reported by the assertion below
                    _db.session.rollback()
                    errors.append(error)

    threads = [threading.Thread(target=desk, args=(n,)) for n in nurses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert (len(given), len(refused)) == (25, 35)
    db.session.expire_all()
    assert on_hand(station, lot_id) == 0
    gives = db.session.execute(select(func.count()).select_from(StockMovement).where(
        StockMovement.kind == "give")).scalar_one()
    assert gives == 25
