"""Shared setup of the lot tests: a product, a received lot, and doses recorded from it."""

from datetime import timedelta

from sqlalchemy import insert, select

from extensions import db
from models.base import now, today
from models.doses import Vaccination
from models.lots import receive_lot, trace_code_run
from models.vaccines import seed_vaccine_products

PRODUCT = "新冠病毒灭活疫苗(Vero细胞)"


def product():
    return seed_vaccine_products()[PRODUCT]


def received_lot(actor, station, lot_number="202611A", packages=20, first_code="81234560000000050001"):
    """Receive `packages` single-dose packages of a lot at `station`; return the lot."""
    movement = receive_lot(actor, station.id, product_id=product().id, manufacturer="北京生物制品研究所有限责任公司",
                           lot_number=lot_number, expiry_date=today() + timedelta(days=200), doses_per_package=1,
                           packages=packages, arrival_temperature="5",
                           trace_codes=trace_code_run(first_code, packages))
    return movement.lot


def record_doses(person_ids, lot, station, at=None, vaccinator=None):
    """Vaccination rows of dose 1 from `lot` for `person_ids` (one INSERT); return their ids."""
    at = at or now()
    db.session.execute(insert(Vaccination), [
        {"person_id": pid, "dose_number": 1, "is_booster": False, "product_id": lot.product_id, "lot_id": lot.id,
         "lot_number": lot.lot_number, "station_id": station.id, "outcome": "given", "at": at,
         "vaccinator_id": getattr(vaccinator, "id", None), "state": "valid", "created_at": at}
        for pid in person_ids])
    db.session.flush()
    return list(db.session.execute(select(Vaccination.id).where(Vaccination.person_id.in_(person_ids))
                                   .order_by(Vaccination.id)).scalars())
