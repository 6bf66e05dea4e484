"""The exit desk's lot: picked from the station's usable lots, or scanned as a package's 追溯码.

A keyboard-wedge scanner types the 20 digits and Enter into the focused field. The page's
script catches that Enter (it must not submit the form before the signature), asks
/station/queue/trace-code which lot the code belongs to and selects it; without the script
the posted code is resolved here. At 确认接种 the dose leaves the lot's stock in the same
transaction as the vaccination record, and the person's 留观 starts.
"""

from dataclasses import dataclass

from models.lots import (
    StockError,
    VaccineLot,
    give_dose_from_lot,
    pickable_lots,
    resolve_trace_code,
    station_keeps_stock,
)
from models.observation import start_observation


@dataclass
class LotChoice:
    lot: VaccineLot | None  # None: the station keeps no stock yet (lot as free text, as before)
    lot_number: str


def lot_context(station_id, product_id=None):
    """What the exit form offers: the usable lots (of the product, when known), first expiring first."""
    keeps = station_keeps_stock(station_id)
    lots = pickable_lots(station_id, product_id) if keeps else []
    return {"keeps_stock": keeps, "lots": lots}


def chosen_lot(form, station_id, product_id=None):
    """The lot of a 确认接种 post (scanned code first, else the picked lot); StockError says what is wrong."""
    if not station_keeps_stock(station_id):
        return LotChoice(None, form.get("vaccine_lot", "").strip())
    code = form.get("trace_code", "").strip()
    if code:
        lot = resolve_trace_code(code)
    else:
        lot_id = form.get("lot_id", "").strip()
        usable = {str(lot.id): lot for lot, _ in pickable_lots(station_id, product_id)}
        if not lot_id:
            raise StockError("请扫描疫苗包装上的追溯码，或选择批号")
        lot = usable.get(lot_id)
        if lot is None:
            raise StockError("所选批号不可用（已冻结、已过期、库存不足或不是该人员的疫苗品种），请重新选择")
    if product_id is not None and lot.product_id != product_id:
        raise StockError(f"追溯码属于{lot.product.name}（批号 {lot.lot_number}），不是该人员应接种的疫苗品种")
    return LotChoice(lot, lot.lot_number)


def record_dose(actor, station_id, choice, event_id):
    """After the vaccinate transition, in its transaction: take the dose from stock, start 留观."""
    from extensions import db
    from models.doses import GIVEN, Vaccination

    if choice.lot is not None:
        vaccination_id = give_dose_from_lot(actor, station_id, choice.lot.id, event_id)
        vaccination = db.session.get(Vaccination, vaccination_id)
    else:
        vaccination = db.session.execute(
            db.select(Vaccination).where(Vaccination.event_id == event_id, Vaccination.outcome == GIVEN)
        ).scalar_one_or_none()
    if vaccination is not None:
        start_observation(vaccination)
