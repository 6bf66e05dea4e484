"""疫苗库存 of one station: 疫苗入库 with trace codes and the arrival temperature, 报损, 调拨, and 日结.

Each post parses its form, calls one operation of models/lots.py, commits once and says what
happened; a refused operation changes nothing and shows its reason.
"""

from datetime import datetime

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select

from admin_views.base import int_arg
from admin_views.labels import MOVEMENT_LABELS, error_text
from admin_views.station_common import StationView, current_station
from extensions import db
from models.base import today
from models.lots import (
    MAX_PACKAGES_PER_RECEIPT,
    WASTE_REASONS,
    LotStock,
    StockError,
    StockMovement,
    VaccineLot,
    close_day,
    closes_of_day,
    day_figures,
    parse_trace_codes,
    receive_lot,
    trace_code_run,
    transfer_stock,
    waste_stock,
)
from models.org import Station
from models.vaccines import VaccineProduct, station_products

RECENT_MOVEMENTS = 30


def parse_date(raw):
    try:
        return datetime.strptime((raw or "").strip(), "%Y-%m-%d").date()
    except ValueError:
        return None


def receivable_products(station_id):
    """The products the center lets this station give; all active products while none is chosen."""
    return station_products(station_id) or list(db.session.execute(
        select(VaccineProduct).where(VaccineProduct.active.is_(True)).order_by(VaccineProduct.name)).scalars())


def station_stock_rows(station_id):
    """Every lot the station holds or held, first expiring first, with its doses on hand."""
    return db.session.execute(
        select(LotStock.on_hand, VaccineLot).join(VaccineLot, VaccineLot.id == LotStock.lot_id)
        .where(LotStock.station_id == station_id)
        .order_by(LotStock.on_hand == 0, VaccineLot.expiry_date, VaccineLot.id)
    ).all()


def trace_codes_from(form):
    """The codes of a receipt: a scanned list, or a first code and the number of packages labelled in sequence."""
    listed = form.get("trace_codes", "")
    if listed.strip():
        return parse_trace_codes(listed)
    first = form.get("first_code", "").strip()
    packages = int_arg("packages", form, high=MAX_PACKAGES_PER_RECEIPT)
    if not first:
        raise StockError("请扫描每个最小包装的追溯码，或填写首个追溯码和包装数量")
    if packages is None:
        raise StockError(f"请填写包装数量（1 到 {MAX_PACKAGES_PER_RECEIPT}）")
    return trace_code_run(first, packages)


class StationStockView(StationView):
    """库存管理: stock per lot, the ledger, and the forms that change it."""

    @expose("/")
    def index(self):
        station = current_station()
        movements = db.session.execute(
            select(StockMovement).where(StockMovement.station_id == station.id)
            .order_by(StockMovement.id.desc()).limit(RECENT_MOVEMENTS)).scalars().all()
        others = db.session.execute(
            select(Station).where(Station.id != station.id, Station.active.is_(True)).order_by(Station.name)
        ).scalars().all()
        return self.render("station/stock.html", rows=station_stock_rows(station.id), movements=movements,
                           products=receivable_products(station.id), others=others, waste_reasons=WASTE_REASONS,
                           movement_labels=MOVEMENT_LABELS, today=today(), form=request.form)

    @expose("/receive", methods=("POST",))
    def receive(self):
        form = request.form
        try:
            codes = trace_codes_from(form)
            movement = receive_lot(
                current_user, current_user.station_id, product_id=int_arg("product_id", form),
                manufacturer=form.get("manufacturer", ""), lot_number=form.get("lot_number", ""),
                expiry_date=parse_date(form.get("expiry_date")),
                doses_per_package=int_arg("doses_per_package", form, high=100),
                packages=len(codes), arrival_temperature=form.get("arrival_temperature", ""), trace_codes=codes)
        except StockError as error:
            return self._refused(error)
        db.session.commit()
        flash(f"已入库：批号 {movement.lot.lot_number}，{movement.packages} 个包装共 {movement.delta} 剂，"
              f"到货温度 {movement.arrival_temperature}℃", "success")
        return redirect(url_for(".index"))

    @expose("/waste", methods=("POST",))
    def waste(self):
        form = request.form
        try:
            count = int_arg("count", form, high=1_000_000)
            if count is None:
                raise StockError("请填写报损数量（剂）")
            waste_stock(current_user, current_user.station_id, self._lot_id(form), count,
                        form.get("reason", ""), form.get("note", "").strip())
        except StockError as error:
            return self._refused(error)
        db.session.commit()
        flash(f"已报损 {count} 剂（{form.get('reason')}）", "success")
        return redirect(url_for(".index"))

    @expose("/transfer", methods=("POST",))
    def transfer(self):
        form = request.form
        try:
            count = int_arg("count", form, high=1_000_000)
            target = int_arg("to_station_id", form)
            if count is None or target is None:
                raise StockError("请选择调入接种点并填写调拨数量（剂）")
            transfer_stock(current_user, current_user.station_id, target, self._lot_id(form), count)
        except StockError as error:
            return self._refused(error)
        db.session.commit()
        flash(f"已调拨 {count} 剂至 {db.session.get(Station, target).name}", "success")
        return redirect(url_for(".index"))

    @expose("/day-close", methods=("GET", "POST"))
    def day_close(self):
        """日结: the day's figures per lot; the station account enters the count and signs."""
        station = current_station()
        day = parse_date(request.values.get("day")) or today()
        if request.method == "POST":
            done = self._close(station, day)
            if done is not None:
                return done
        return self.render("station/day_close.html", day=day, figures=day_figures(station.id, day),
                           closes=closes_of_day(station.id, day), form=request.form, today=today())

    def _close(self, station, day):
        counts, explanations = {}, {}
        for key, value in request.form.items():
            if key.startswith("counted_"):
                number = value.strip()
                counts[_lot_key(key)] = int(number) if number.isdigit() and len(number) < 8 else None
            elif key.startswith("explanation_"):
                explanations[_lot_key(key)] = value
        try:
            closed, variances = close_day(current_user, station.id, day, counts, explanations)
        except StockError as error:
            db.session.rollback()
            flash(error_text(error), "error")
            return None
        db.session.commit()
        note = f"，其中 {variances} 个批号有差异，已按实盘调整并签认" if variances else "，账实相符"
        flash(f"已日结 {day:%Y-%m-%d}：{closed} 个批号{note}", "success")
        return redirect(url_for(".day_close", day=day.isoformat()))

    def _lot_id(self, form):
        lot_id = int_arg("lot_id", form)
        if lot_id is None:
            raise StockError("请选择批号")
        return lot_id

    def _refused(self, error):
        db.session.rollback()
        flash(error_text(error), "error")
        return self.index(), 422


def _lot_key(field_name):
    """`counted_12` -> 12 (an unparsable suffix -> None, which matches no lot)."""
    suffix = field_name.rsplit("_", 1)[-1]
    return int(suffix) if suffix.isdigit() and len(suffix) < 10 else None

