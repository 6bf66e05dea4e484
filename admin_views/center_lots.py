"""防控中心端 疫苗批号: every lot with its stock and doses given, 冻结 (recall) and the recipients' list;
库存日结: every station's stock and the state of its 日结.
"""

from datetime import timedelta

from flask import Response, abort, flash, redirect, request, stream_with_context, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import func, select

from admin_views.base import RoleAccessMixin, int_arg, mask_id_number, mask_phone
from admin_views.enterprise import download_names
from admin_views.labels import error_text
from admin_views.station_stock import parse_date
from extensions import db
from models.audit import record_event
from models.base import today
from models.lot_counts import doses_by_lot
from models.lots import LotStock, StockError, VaccineLot, freeze_lot, station_close_states, unfreeze_lot
from models.recall import queue_recall_sms, recall_page, recipients_query
from models.user import CENTER
from services.spreadsheets import XLSX_MIMETYPE, stream_xlsx

RECIPIENT_HEADERS = ("姓名", "身份证号", "联系电话", "企业", "接种日期", "剂次", "接种点")


def recipient_cells(row, masked=True):
    """One recipient as the list (ID and phone masked) or the export (full values) shows it."""
    id_number, phone = (mask_id_number(row.id_number), mask_phone(row.phone)) if masked else (row.id_number, row.phone)
    return (row.name, id_number, phone, row.enterprise, row.at.strftime("%Y-%m-%d %H:%M"), f"第{row.dose_number}剂",
            row.station or "")


def lot_rows():
    """Every lot with its doses on hand in the district (grouped over the stations' stock) and doses given."""
    on_hand = dict(db.session.execute(
        select(LotStock.lot_id, func.sum(LotStock.on_hand)).group_by(LotStock.lot_id)).all())
    given = doses_by_lot()
    lots = db.session.execute(select(VaccineLot).order_by(VaccineLot.frozen_at.is_(None), VaccineLot.expiry_date,
                                                          VaccineLot.id)).scalars().all()
    return [{"lot": lot, "on_hand": on_hand.get(lot.id, 0) or 0, "given": given.get(lot.id, 0)} for lot in lots]


class CenterLotView(RoleAccessMixin, BaseView):
    role = CENTER

    @expose("/")
    def index(self):
        return self.render("center/lots.html", rows=lot_rows(), today=today())

    @expose("/<int:lot_id>/freeze", methods=("POST",))
    def freeze(self, lot_id):
        return self._change(lambda: freeze_lot(current_user, lot_id, request.form.get("reason")),
                            "已冻结：各接种点从现在起不能再使用该批号", lot_id)

    @expose("/<int:lot_id>/unfreeze", methods=("POST",))
    def unfreeze(self, lot_id):
        return self._change(lambda: unfreeze_lot(current_user, lot_id, request.form.get("reason")),
                            "已解除冻结", lot_id)

    def _change(self, operation, message, lot_id):
        try:
            operation()
        except StockError as error:
            db.session.rollback()
            flash(error_text(error), "error")
            return redirect(url_for(".index"))
        db.session.commit()
        flash(message, "success")
        return redirect(url_for(".recipients", lot_id=lot_id))

    @expose("/<int:lot_id>/recipients")
    def recipients(self, lot_id):
        """The recall list: who was given this lot, 50 a page (masked; the export has the full values)."""
        after = int_arg("after")
        lot, rows, next_after = recall_page(current_user, lot_id, after=after)
        if lot is None:
            abort(404)
        # Cells formatted here, not by template calls: 50 rows of them are most of the page's rendering.
        return self.render("center/lot_recipients.html", lot=lot, rows=[recipient_cells(row) for row in rows],
                           next_after=next_after, first_page=after is None)

    @expose("/<int:lot_id>/recipients.xlsx")
    def export(self, lot_id):
        """All recipients with full ID numbers and phones (the recall needs them); the export is audited."""
        lot = db.get_or_404(VaccineLot, lot_id)
        statement = recipients_query(lot_id).execution_options(yield_per=1000)
        written = [0]

        def rows():
            for row in db.session.execute(statement):
                written[0] += 1
                yield recipient_cells(row, masked=False)

        def body():
            try:
                yield from stream_xlsx(RECIPIENT_HEADERS, rows(), title=f"批号{lot.lot_number}受种者",
                                       text_columns=(1, 2), widths={1: 22, 2: 14, 3: 28, 4: 17, 6: 20})
            finally:
                record_event(current_user, "lot_recipients_export", target_type="vaccine_lot", target_id=lot_id,
                             changed=written[0], requested=written[0], detail=f"xlsx rows={written[0]}")
                db.session.commit()

        response = Response(stream_with_context(body()), mimetype=XLSX_MIMETYPE)
        response.headers.set("Content-Disposition", "attachment",
                             **download_names(f"召回名单-{lot.lot_number}-{today():%Y%m%d}.xlsx"))
        response.headers["Cache-Control"] = "no-cache"
        return response

    @expose("/<int:lot_id>/sms", methods=("POST",))
    def sms(self, lot_id):
        """Queue a message to every recipient (the worker sends it; nothing leaves during the request)."""
        try:
            queued = queue_recall_sms(current_user, lot_id, request.form.get("body"))
        except StockError as error:
            db.session.rollback()
            flash(error_text(error), "error")
            return redirect(url_for(".recipients", lot_id=lot_id))
        db.session.commit()
        flash(f"已加入短信发送队列：{queued} 人", "success")
        return redirect(url_for(".recipients", lot_id=lot_id))


class CenterStockView(RoleAccessMixin, BaseView):
    """库存日结: each station's doses on hand and whether its 日结 of a day is signed."""

    role = CENTER

    @expose("/")
    def index(self):
        day = parse_date(request.args.get("day")) or today() - timedelta(days=1)
        return self.render("center/stock.html", day=day, states=station_close_states(day), today=today())
