"""Vaccine lots, their package trace codes, stock per station and lot, and the stock ledger.

Traceability follows the 2019 《中华人民共和国疫苗管理法》: art. 10 (a vaccine traceability
system, "实现疫苗最小包装单位可追溯、可核查"), art. 36-37 (receiving checks the cold-chain
record and temperature; the receiving and the stock are recorded truthfully) and art. 45
(every dose is recorded with its product, manufacturer, 批号 and the vaccinator). A trace code
(药品追溯码) is the 20-digit code printed on each smallest package (NMPA 《药品追溯码编码要求》
NMPA/YPZS-2019-002: 药品标识码 + 生产标识码 + 校验位); it is registered when the package is received
and resolves to its lot at the exit desk.

Stock is counted in doses. Every change of `LotStock.on_hand` is one conditional UPDATE (the
database keeps `on_hand >= 0` as well) plus one ledger row in `StockMovement`, in the caller's
transaction. Operations take the actor, check the station scope, audit, flush, never commit.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, and_, case, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from extensions import db
from models.audit import record_event
from models.base import now, today
from models.errors import DomainError
from models.user import ADMIN, CENTER, STATION
from models.vaccines import VaccineProduct

TRACE_CODE_LENGTH = 20
MAX_PACKAGES_PER_RECEIPT = 20000

# Cold chain of the vaccines given here (2-8 ℃; 《疫苗储存和运输管理规范（2017年版）》 art. 13).
COLD_CHAIN_MIN = Decimal("2")
COLD_CHAIN_MAX = Decimal("8")

RECEIVE, GIVE, WASTE, TRANSFER_OUT, TRANSFER_IN, ADJUST = (
    "receive", "give", "waste", "transfer_out", "transfer_in", "adjust")
MOVEMENT_KINDS = (RECEIVE, GIVE, WASTE, TRANSFER_OUT, TRANSFER_IN, ADJUST)  # worded in admin_views/labels.py
# 报损 reasons as they are stored (the movement's reason and the audit row's): data the ledger keeps.
WASTE_REASONS = ("破损", "过期", "开启未用完")


class StockError(DomainError):
    """A stock operation that cannot be done as asked; its code is worded by admin_views/labels.py."""


class VaccineLot(db.Model):
    """One 批号 of one product: who made it, when it expires, how many doses a package holds."""

    __tablename__ = "vaccine_lot"
    id = db.Column(db.Integer, primary_key=True)
    product_id = db.Column(db.Integer, db.ForeignKey("vaccine_product.id"), nullable=False, index=True)
    manufacturer = db.Column(db.String(100), nullable=False)
    lot_number = db.Column(db.String(50), nullable=False)
    expiry_date = db.Column(db.Date, nullable=False)
    doses_per_package = db.Column(db.Integer, nullable=False, default=1)
    created_at = db.Column(db.DateTime, nullable=False, default=now)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    frozen_at = db.Column(db.DateTime)
    frozen_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    frozen_reason = db.Column(db.String(200))

    product = db.relationship("VaccineProduct")

    __table_args__ = (
        UniqueConstraint("product_id", "lot_number", name="uq_vaccine_lot_product_lot_number"),
        CheckConstraint("doses_per_package >= 1", name="doses_per_package_positive"),
    )

    @property
    def frozen(self):
        return self.frozen_at is not None

    def expired(self, on=None):
        return self.expiry_date < (on or today())

    def __str__(self):
        return self.lot_number


class LotPackage(db.Model):
    """A smallest package with its 追溯码, registered at receipt."""

    __tablename__ = "lot_package"
    code = db.Column(db.String(TRACE_CODE_LENGTH), primary_key=True)
    lot_id = db.Column(db.Integer, db.ForeignKey("vaccine_lot.id"), nullable=False, index=True)
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"), nullable=False)
    movement_id = db.Column(db.Integer, db.ForeignKey("stock_movement.id"), nullable=False)

    lot = db.relationship("VaccineLot")


class LotStock(db.Model):
    """Doses of one lot on hand at one station."""

    __tablename__ = "lot_stock"
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"), primary_key=True)
    lot_id = db.Column(db.Integer, db.ForeignKey("vaccine_lot.id"), primary_key=True, index=True)
    on_hand = db.Column(db.Integer, nullable=False, default=0)

    lot = db.relationship("VaccineLot")
    station = db.relationship("Station")

    __table_args__ = (CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),)


class StockMovement(db.Model):
    """One line of the stock ledger: a signed change of doses of one lot at one station."""

    __tablename__ = "stock_movement"
    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(db.DateTime, nullable=False, default=now)
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"), nullable=False)
    lot_id = db.Column(db.Integer, db.ForeignKey("vaccine_lot.id"), nullable=False, index=True)
    kind = db.Column(db.String(16), nullable=False)
    delta = db.Column(db.Integer, nullable=False)
    packages = db.Column(db.Integer)
    reason = db.Column(db.String(200))
    arrival_temperature = db.Column(db.Numeric(4, 1))
    other_station_id = db.Column(db.Integer, db.ForeignKey("station.id"))
    actor_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    event_id = db.Column(db.Integer, db.ForeignKey("audit_event.id"))

    lot = db.relationship("VaccineLot")
    other_station = db.relationship("Station", foreign_keys=[other_station_id])
    actor = db.relationship("User")

    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in MOVEMENT_KINDS) + ")", name="kind_known"),
        CheckConstraint("delta <> 0", name="delta_not_zero"),
        Index("ix_stock_movement_station_at", "station_id", "at"),
    )


# ---------------------------------------------------------------- scope and look-ups

def check_station_scope(actor, station_id):
    """A station account acts for its own station; the center (and admin) for any station."""
    role = getattr(actor, "role", None)
    if role in (CENTER, ADMIN):
        return
    if role == STATION and actor.station_id is not None and actor.station_id == station_id:
        return
    raise StockError("stock_not_allowed")


def pickable_lots_query(station_id, product_id=None, on=None):
    """Lots a desk of the station may give now: in stock, not frozen, not expired."""
    query = (
        select(VaccineLot, LotStock.on_hand)
        .join(LotStock, LotStock.lot_id == VaccineLot.id)
        .where(LotStock.station_id == station_id, LotStock.on_hand > 0, VaccineLot.frozen_at.is_(None),
               VaccineLot.expiry_date >= (on or today()))
        .order_by(VaccineLot.expiry_date, VaccineLot.id)  # first expiring first
    )
    if product_id is not None:
        query = query.where(VaccineLot.product_id == product_id)
    return query


def pickable_lots(station_id, product_id=None):
    return db.session.execute(pickable_lots_query(station_id, product_id)).all()


def normalise_trace_code(raw):
    """A scanner may add spaces, dashes or a prefix of its own: keep the digits."""
    return "".join(ch for ch in (raw or "") if ch.isdigit())


def trace_code_error(code):
    """A StockError for a code of the wrong length (not raised), or None."""
    if len(code) != TRACE_CODE_LENGTH:
        return StockError("trace_code_length", length=TRACE_CODE_LENGTH, got=len(code))
    return None


def resolve_trace_code(raw):
    """Return the lot of a scanned 追溯码, or raise StockError saying why not."""
    code = normalise_trace_code(raw)
    error = trace_code_error(code)
    if error:
        raise error
    lot = db.session.execute(
        select(VaccineLot).join(LotPackage, LotPackage.lot_id == VaccineLot.id).where(LotPackage.code == code)
    ).scalar_one_or_none()
    if lot is None:
        raise StockError("trace_code_unknown", code=code)
    return lot


def parse_trace_codes(text):
    """Codes of a scanned list: one per line (or separated by spaces, commas); return them, in order."""
    raw = (text or "").replace(",", "\n").replace("，", "\n").split()
    codes = [normalise_trace_code(item) for item in raw if normalise_trace_code(item)]
    for code in codes:
        if trace_code_error(code):
            raise StockError("listed_trace_code_length", code=code, length=TRACE_CODE_LENGTH, got=len(code))
    if len(set(codes)) != len(codes):
        raise StockError("trace_codes_repeated")
    return codes


def trace_code_run(first, count):
    """The codes of `count` packages labelled in sequence from `first` (the code read as a number)."""
    first = normalise_trace_code(first)
    error = trace_code_error(first)
    if error:
        raise error
    if not 1 <= count <= MAX_PACKAGES_PER_RECEIPT:
        raise StockError("package_count_range", most=MAX_PACKAGES_PER_RECEIPT)
    start = int(first)
    if len(str(start + count - 1)) > TRACE_CODE_LENGTH:
        raise StockError("trace_code_run_too_long", length=TRACE_CODE_LENGTH)
    return [str(start + i).zfill(TRACE_CODE_LENGTH) for i in range(count)]


# ---------------------------------------------------------------- the ledger

def _upsert_stock(station_id, lot_id, delta):
    """Add doses to a station's stock of a lot, creating the row the first time."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(LotStock).values(station_id=station_id, lot_id=lot_id, on_hand=delta)
    statement = statement.on_conflict_do_update(
        index_elements=[LotStock.station_id, LotStock.lot_id],
        set_={"on_hand": LotStock.on_hand + delta},
    )
    db.session.execute(statement)


def _take(station_id, lot_id, count, *, allow_frozen=False, on=None):
    """Decrement stock where there is enough of a lot that may still be used; return rows changed."""
    usable = [VaccineLot.id == lot_id]
    if not allow_frozen:
        usable += [VaccineLot.frozen_at.is_(None), VaccineLot.expiry_date >= (on or today())]
    result = db.session.execute(
        update(LotStock)
        .where(LotStock.station_id == station_id, LotStock.lot_id == lot_id, LotStock.on_hand >= count,
               exists(select(VaccineLot.id).where(*usable)))
        .values(on_hand=LotStock.on_hand - count)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _why_not_taken(station_id, lot_id, count, *, allow_frozen=False):
    """The StockError of a refused decrement (read after the fact: only to say why)."""
    lot = db.session.get(VaccineLot, lot_id)
    if lot is None:
        return StockError("lot_not_found")
    if not allow_frozen and lot.frozen:
        if lot.frozen_reason:
            return StockError("lot_frozen", lot=lot.lot_number, reason=lot.frozen_reason)
        return StockError("lot_recalled", lot=lot.lot_number)
    if not allow_frozen and lot.expired():
        return StockError("lot_expired", lot=lot.lot_number, expiry=lot.expiry_date)
    on_hand = db.session.execute(
        select(LotStock.on_hand).where(LotStock.station_id == station_id, LotStock.lot_id == lot_id)
    ).scalar_one_or_none() or 0
    return StockError("stock_short", lot=lot.lot_number, on_hand=on_hand, count=count)


def _movement(actor, station_id, lot_id, kind, delta, event, **values):
    row = StockMovement(station_id=station_id, lot_id=lot_id, kind=kind, delta=delta,
                        actor_id=getattr(actor, "id", None), event_id=event.id, **values)
    db.session.add(row)
    return row


def _positive_count(count, what="count"):
    if not isinstance(count, int) or isinstance(count, bool) or count < 1 or count > 1_000_000:
        raise StockError(f"{what}_not_positive")
    return count


def take_from_stock(actor, station_id, lot_id, count=1, *, reason=None):
    """Give `count` doses of a lot at a station: refused (StockError) unless in stock, not frozen, not expired."""
    check_station_scope(actor, station_id)
    _positive_count(count)
    if _take(station_id, lot_id, count) != 1:
        raise _why_not_taken(station_id, lot_id, count)
    event = record_event(actor, "stock_give", target_type="vaccine_lot", target_id=lot_id,
                         changed=count, requested=count, detail=f"station={station_id}")
    db.session.flush()
    movement = _movement(actor, station_id, lot_id, GIVE, -count, event, reason=reason)
    db.session.flush()
    return movement


def give_dose_from_lot(actor, station_id, lot_id, event_id):
    """At 确认接种: take one dose of the lot and tie the event's vaccination record to it; return the record id.

    Called in the transaction of the vaccination record, so the dose and the stock change
    commit together or not at all.
    """
    from models.doses import GIVEN, Vaccination

    take_from_stock(actor, station_id, lot_id, 1, reason=f"event={event_id}")
    lot = db.session.get(VaccineLot, lot_id)
    record = db.session.execute(
        select(Vaccination.id, Vaccination.product_id).where(
            Vaccination.event_id == event_id, Vaccination.station_id == station_id, Vaccination.outcome == GIVEN)
    ).all()
    if len(record) != 1:
        raise StockError("vaccination_record_missing")
    vaccination_id, product_id = record[0]
    if product_id is not None and product_id != lot.product_id:
        raise StockError("lot_other_product", lot=lot.lot_number, product=lot.product.name)
    db.session.execute(update(Vaccination).where(Vaccination.id == vaccination_id)
                       .values(lot_id=lot.id, lot_number=lot.lot_number, product_id=lot.product_id)
                       .execution_options(synchronize_session=False))
    db.session.flush()
    return vaccination_id


def station_keeps_stock(station_id):
    """Whether the station has ever received a lot: from then on every dose comes out of its stock."""
    return db.session.execute(select(LotStock.lot_id).where(LotStock.station_id == station_id).limit(1)).first() \
        is not None


def waste_stock(actor, station_id, lot_id, count, reason, note=""):
    """报损: doses broken, expired or left in an opened multi-dose package."""
    check_station_scope(actor, station_id)
    _positive_count(count, "waste_count")
    if reason not in WASTE_REASONS:
        raise StockError("waste_reason_required", reasons=WASTE_REASONS)
    if len(note or "") > 150:
        raise StockError("waste_note_too_long", most=150)
    # Expired and frozen doses are exactly what gets written off.
    if _take(station_id, lot_id, count, allow_frozen=True) != 1:
        raise _why_not_taken(station_id, lot_id, count, allow_frozen=True)
    text = f"{reason}：{note}" if note else reason
    event = record_event(actor, "stock_waste", target_type="vaccine_lot", target_id=lot_id, reason=text,
                         changed=count, requested=count, detail=f"station={station_id}")
    db.session.flush()
    movement = _movement(actor, station_id, lot_id, WASTE, -count, event, reason=text)
    db.session.flush()
    return movement


def transfer_stock(actor, from_station_id, to_station_id, lot_id, count):
    """调拨: doses of a usable lot leave one station and arrive at another, in one transaction."""
    check_station_scope(actor, from_station_id)
    _positive_count(count, "transfer_count")
    if from_station_id == to_station_id:
        raise StockError("transfer_same_station")
    from models.org import Station

    target = db.session.get(Station, to_station_id)
    if target is None or not target.active:
        raise StockError("transfer_target_inactive")
    if _take(from_station_id, lot_id, count) != 1:
        raise _why_not_taken(from_station_id, lot_id, count)
    _upsert_stock(to_station_id, lot_id, count)
    event = record_event(actor, "stock_transfer", target_type="vaccine_lot", target_id=lot_id,
                         changed=count, requested=count, detail=f"station={from_station_id} -> {to_station_id}")
    db.session.flush()
    _movement(actor, from_station_id, lot_id, TRANSFER_OUT, -count, event, other_station_id=to_station_id)
    _movement(actor, to_station_id, lot_id, TRANSFER_IN, count, event, other_station_id=from_station_id)
    db.session.flush()
    return event


def parse_temperature(raw):
    try:
        value = Decimal(str(raw).strip().replace("℃", ""))
    except (InvalidOperation, ValueError):
        raise StockError("temperature_required") from None
    if not value.is_finite() or not Decimal("-90") <= value <= Decimal("60"):
        raise StockError("temperature_implausible")
    return value.quantize(Decimal("0.1"))


def receive_lot(actor, station_id, *, product_id, manufacturer, lot_number, expiry_date, doses_per_package,
                packages, arrival_temperature, trace_codes=()):
    """疫苗入库: find or create the lot, add its doses to the station, register the package codes.

    A delivery whose arrival temperature lies outside the cold chain is refused (拒收): nothing
    enters stock (疫苗管理法 art. 36).
    """
    check_station_scope(actor, station_id)
    lot_number = (lot_number or "").strip()
    manufacturer = (manufacturer or "").strip()
    if not lot_number or len(lot_number) > 50:
        raise StockError("lot_number_required", most=50)
    if not manufacturer or len(manufacturer) > 100:
        raise StockError("manufacturer_required", most=100)
    if not isinstance(expiry_date, date):
        raise StockError("expiry_required")
    if expiry_date < today():
        raise StockError("receive_expired", expiry=expiry_date)
    _positive_count(doses_per_package, "doses_per_package")
    _positive_count(packages, "package_count")
    if packages > MAX_PACKAGES_PER_RECEIPT:
        raise StockError("too_many_packages", most=MAX_PACKAGES_PER_RECEIPT)
    temperature = parse_temperature(arrival_temperature)
    if not COLD_CHAIN_MIN <= temperature <= COLD_CHAIN_MAX:
        raise StockError("cold_chain_broken", temperature=temperature, low=COLD_CHAIN_MIN, high=COLD_CHAIN_MAX)
    trace_codes = list(trace_codes)
    if trace_codes and len(trace_codes) != packages:
        raise StockError("trace_code_count_mismatch", codes=len(trace_codes), packages=packages)
    lot = _find_or_create_lot(actor, product_id, manufacturer, lot_number, expiry_date, doses_per_package)
    doses = packages * lot.doses_per_package
    _upsert_stock(station_id, lot.id, doses)
    event = record_event(actor, "stock_receive", target_type="vaccine_lot", target_id=lot.id, changed=doses,
                         requested=doses, detail=f"station={station_id} packages={packages} temp={temperature}")
    db.session.flush()
    movement = _movement(actor, station_id, lot.id, RECEIVE, doses, event, packages=packages,
                         arrival_temperature=temperature)
    db.session.flush()
    if trace_codes:
        _register_codes(trace_codes, lot.id, station_id, movement.id)
    return movement


def _find_or_create_lot(actor, product_id, manufacturer, lot_number, expiry_date, doses_per_package):
    if product_id is None or db.session.get(VaccineProduct, product_id) is None:
        raise StockError("product_required")
    lot = db.session.execute(
        select(VaccineLot).where(VaccineLot.product_id == product_id, VaccineLot.lot_number == lot_number)
    ).scalar_one_or_none()
    if lot is None:
        lot = VaccineLot(product_id=product_id, manufacturer=manufacturer, lot_number=lot_number,
                         expiry_date=expiry_date, doses_per_package=doses_per_package,
                         created_by_id=getattr(actor, "id", None))
        db.session.add(lot)
        db.session.flush()
        return lot
    if (lot.expiry_date, lot.doses_per_package) != (expiry_date, doses_per_package):
        raise StockError("lot_differs", lot=lot_number, expiry=lot.expiry_date, doses=lot.doses_per_package)
    if lot.frozen:
        raise StockError("receive_frozen", lot=lot_number)
    return lot


def _register_codes(codes, lot_id, station_id, movement_id):
    """Register package codes in one INSERT; a code already registered refuses the whole receipt."""
    taken = db.session.execute(select(LotPackage.code).where(LotPackage.code.in_(codes)).limit(3)).scalars().all()
    if taken:
        raise StockError("trace_codes_taken", codes=taken)
    db.session.execute(insert(LotPackage), [
        {"code": code, "lot_id": lot_id, "station_id": station_id, "movement_id": movement_id} for code in codes
    ])


# ---------------------------------------------------------------- freeze (recall)

def freeze_lot(actor, lot_id, reason):
    """冻结: from the next request on, no desk can give this lot anywhere (center only)."""
    if getattr(actor, "role", None) not in (CENTER, ADMIN):
        raise StockError("freeze_center_only")
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise StockError("freeze_reason_required", most=200)
    changed = db.session.execute(
        update(VaccineLot).where(VaccineLot.id == lot_id, VaccineLot.frozen_at.is_(None))
        .values(frozen_at=now(), frozen_by_id=actor.id, frozen_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise StockError("lot_missing_or_frozen")
    record_event(actor, "lot_freeze", target_type="vaccine_lot", target_id=lot_id, reason=reason)
    db.session.flush()


def unfreeze_lot(actor, lot_id, reason):
    """解除冻结 after the investigation clears the lot."""
    if getattr(actor, "role", None) not in (CENTER, ADMIN):
        raise StockError("unfreeze_center_only")
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise StockError("unfreeze_reason_required", most=200)
    changed = db.session.execute(
        update(VaccineLot).where(VaccineLot.id == lot_id, VaccineLot.frozen_at.is_not(None))
        .values(frozen_at=None, frozen_by_id=None, frozen_reason=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise StockError("lot_missing_or_not_frozen")
    record_event(actor, "lot_unfreeze", target_type="vaccine_lot", target_id=lot_id, reason=reason)
    db.session.flush()


# ---------------------------------------------------------------- 日结 (end of day)

class StockDayClose(db.Model):
    """日结 of one lot at one station for one day: the book figures, the count, and who signed."""

    __tablename__ = "stock_day_close"
    id = db.Column(db.Integer, primary_key=True)
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"), nullable=False)
    lot_id = db.Column(db.Integer, db.ForeignKey("vaccine_lot.id"), nullable=False)
    day = db.Column(db.Date, nullable=False)
    opening = db.Column(db.Integer, nullable=False)
    received = db.Column(db.Integer, nullable=False)
    given = db.Column(db.Integer, nullable=False)
    wasted = db.Column(db.Integer, nullable=False)
    transferred_out = db.Column(db.Integer, nullable=False)
    transferred_in = db.Column(db.Integer, nullable=False)
    book_closing = db.Column(db.Integer, nullable=False)
    counted = db.Column(db.Integer, nullable=False)
    explanation = db.Column(db.String(200))
    signed_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    signed_at = db.Column(db.DateTime, nullable=False, default=now)

    lot = db.relationship("VaccineLot")
    signed_by = db.relationship("User")

    __table_args__ = (
        UniqueConstraint("station_id", "day", "lot_id", name="uq_stock_day_close_station_day_lot"),
        CheckConstraint("counted >= 0", name="counted_not_negative"),
        CheckConstraint("book_closing = opening + received - given - wasted - transferred_out + transferred_in",
                        name="book_balances"),
    )

    @property
    def variance(self):
        return self.counted - self.book_closing


def _day_bounds(day):
    start = datetime.combine(day, time.min)
    return start, start + timedelta(days=1)


def day_figures(station_id, day):
    """Per lot: opening + received − given − wasted − out + in (+ earlier adjustments) = closing, from the ledger."""
    start, end = _day_bounds(day)
    m = StockMovement

    def within(kind, sign=-1):
        return func.coalesce(func.sum(case((and_(m.at >= start, m.kind == kind), sign * m.delta), else_=0)), 0)

    rows = db.session.execute(
        select(
            m.lot_id,
            func.coalesce(func.sum(case((m.at < start, m.delta), else_=0)), 0).label("opening"),
            within(RECEIVE, 1).label("received"), within(GIVE).label("given"), within(WASTE).label("wasted"),
            within(TRANSFER_OUT).label("transferred_out"), within(TRANSFER_IN, 1).label("transferred_in"),
            within(ADJUST, 1).label("adjusted"),
        ).where(m.station_id == station_id, m.at < end).group_by(m.lot_id)
    ).all()
    lots = {lot.id: lot for lot in db.session.execute(
        select(VaccineLot).where(VaccineLot.id.in_([r.lot_id for r in rows]))).scalars()}
    figures = []
    for r in rows:
        moved = r.received or r.given or r.wasted or r.transferred_out or r.transferred_in or r.adjusted
        if not r.opening and not moved:
            continue
        closing = r.opening + r.received - r.given - r.wasted - r.transferred_out + r.transferred_in + r.adjusted
        figures.append({"lot": lots[r.lot_id], "opening": r.opening + r.adjusted, "received": r.received,
                        "given": r.given, "wasted": r.wasted, "transferred_out": r.transferred_out,
                        "transferred_in": r.transferred_in, "closing": closing})
    figures.sort(key=lambda f: (f["lot"].expiry_date, f["lot"].id))
    return figures


def closes_of_day(station_id, day):
    return {c.lot_id: c for c in db.session.execute(
        select(StockDayClose).where(StockDayClose.station_id == station_id, StockDayClose.day == day)).scalars()}


def close_day(actor, station_id, day, counts, explanations):
    """日结: the station account signs the day's figures of every lot; a variance needs its explanation.

    The counted doses become the stock: a variance is booked as a 盘点调整 movement at the end
    of the day, so the next day opens with what was counted.
    """
    if getattr(actor, "role", None) != STATION or actor.station_id != station_id:
        raise StockError("close_own_station_only")
    if day > today():
        raise StockError("close_future_day")
    figures = day_figures(station_id, day)
    if not figures:
        raise StockError("close_nothing")
    if closes_of_day(station_id, day):
        raise StockError("close_done")
    rows, adjustments = [], []
    for f in figures:
        lot = f["lot"]
        counted = counts.get(lot.id)
        if counted is None or counted < 0:
            raise StockError("count_required", lot=lot.lot_number)
        explanation = (explanations.get(lot.id) or "").strip()
        if counted != f["closing"] and not explanation:
            raise StockError("variance_unexplained", lot=lot.lot_number, counted=counted, book=f["closing"])
        if len(explanation) > 200:
            raise StockError("explanation_too_long", most=200)
        rows.append({"station_id": station_id, "lot_id": lot.id, "day": day, "opening": f["opening"],
                     "received": f["received"], "given": f["given"], "wasted": f["wasted"],
                     "transferred_out": f["transferred_out"], "transferred_in": f["transferred_in"],
                     "book_closing": f["closing"], "counted": counted, "explanation": explanation or None,
                     "signed_by_id": actor.id, "signed_at": now()})
        if counted != f["closing"]:
            adjustments.append((lot.id, counted - f["closing"], explanation))
    event = record_event(actor, "stock_day_close", target_type="station", target_id=station_id,
                         changed=len(rows), requested=len(rows), detail=f"day={day:%Y-%m-%d}",
                         reason="；".join(e for _, _, e in adjustments)[:200] or None)
    db.session.flush()
    db.session.execute(insert(StockDayClose), rows)
    _book_adjustments(actor, station_id, day, adjustments, event)
    db.session.flush()
    return len(rows), len(adjustments)


def _book_adjustments(actor, station_id, day, adjustments, event):
    if not adjustments:
        return
    at = now() if day == today() else datetime.combine(day, time(23, 59, 59))
    for lot_id, variance, _ in adjustments:
        if variance < 0 and _take(station_id, lot_id, -variance, allow_frozen=True) != 1:
            raise StockError("count_below_later_issues")
        if variance > 0:
            _upsert_stock(station_id, lot_id, variance)
    db.session.execute(insert(StockMovement), [
        {"at": at, "station_id": station_id, "lot_id": lot_id, "kind": ADJUST, "delta": variance,
         "reason": explanation, "actor_id": actor.id, "event_id": event.id}
        for lot_id, variance, explanation in adjustments])


def station_close_states(day):
    """For the center: per station, how many lots it holds or moved and how many are closed for `day`."""
    from models.org import Station

    closed = dict(db.session.execute(
        select(StockDayClose.station_id, func.count()).where(StockDayClose.day == day)
        .group_by(StockDayClose.station_id)).all())
    variances = dict(db.session.execute(
        select(StockDayClose.station_id, func.count()).where(
            StockDayClose.day == day, StockDayClose.counted != StockDayClose.book_closing)
        .group_by(StockDayClose.station_id)).all())
    stock = dict(db.session.execute(
        select(LotStock.station_id, func.coalesce(func.sum(LotStock.on_hand), 0)).group_by(LotStock.station_id)).all())
    stations = db.session.execute(select(Station).order_by(Station.id)).scalars().all()
    return [{"station": s, "closed_lots": closed.get(s.id, 0), "variances": variances.get(s.id, 0),
             "on_hand": stock.get(s.id, 0), "lots": len(day_figures(s.id, day)) if s.id in stock else 0}
            for s in stations]


__all__ = [
    "LotPackage", "LotStock", "StockDayClose", "StockError", "StockMovement", "VaccineLot", "check_station_scope",
    "close_day", "day_figures", "freeze_lot", "give_dose_from_lot", "pickable_lots", "receive_lot",
    "resolve_trace_code", "station_keeps_stock", "take_from_stock", "transfer_stock", "unfreeze_lot", "waste_stock",
]
