"""疫苗品种: the admin edits products and their schedules; the center chooses what each station gives."""

from flask import flash, redirect, request
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import select
from wtforms import IntegerField, ValidationError
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from admin_views.base import RoleAccessMixin
from admin_views.system import AdminModelView, yes_no
from extensions import db
from models.audit import record_event
from models.org import Station
from models.user import CENTER
from models.vaccines import StationProduct, VaccineDoseRule, VaccineProduct, set_station_products

MAX_DOSES = 5


def _schedule(view, context, model, name):
    """第2剂：上一剂后 21–56 天；… (单剂 for a one-dose course)."""
    texts = []
    for rule in model.rules:
        upper = rule.max_interval_days if rule.max_interval_days is not None else "不限"
        texts.append(f"第{rule.dose_number}剂：上一剂后 {rule.min_interval_days}–{upper} 天")
    return "；".join(texts) or "单剂"


def _booster(view, context, model, name):
    days = model.booster_after_days
    return "不加强" if days is None else f"全程后 {days} 天起"


class VaccineProductView(AdminModelView):
    """Products with their schedule: one interval rule per dose after the first."""

    column_list = ("name", "manufacturer", "code", "primary_doses", "rules", "booster_after_days",
                   "reserve_next_dose", "active")
    column_labels = {"name": "疫苗品种", "manufacturer": "生产企业", "code": "编码", "primary_doses": "基础免疫剂次",
                     "rules": "接种间隔", "booster_after_days": "加强免疫",
                     "reserve_next_dose": "预约第1剂时同时预留下一剂", "active": "启用"}
    column_formatters = {"rules": _schedule, "booster_after_days": _booster, "active": yes_no,
                         "reserve_next_dose": yes_no}
    form_columns = ("name", "manufacturer", "code", "primary_doses",
                    *(f"dose{n}_{bound}" for n in range(2, MAX_DOSES + 1) for bound in ("min", "max")),
                    "booster_after_days", "reserve_next_dose", "active")
    form_args = {
        "name": {"label": "疫苗品种", "validators": [DataRequired("请输入疫苗品种名称"), Length(max=100)]},
        "manufacturer": {"label": "生产企业", "validators": [Length(max=100)]},
        "code": {"label": "编码", "validators": [DataRequired("请输入编码"), Length(max=32)]},
        "primary_doses": {"label": "基础免疫剂次", "validators": [
            DataRequired("请输入剂次"), NumberRange(min=1, max=MAX_DOSES, message=f"剂次须在 1 到 {MAX_DOSES} 之间")]},
        "booster_after_days": {"label": "全程接种后多少天可加强（空为不加强）", "validators": [
            Optional(), NumberRange(min=0, max=3650, message="天数须在 0 到 3650 之间")]},
        "reserve_next_dose": {"label": "预约第1剂时同时预留下一剂的时段"},
        "active": {"label": "启用"},
    }
    # One pair of fields per later dose instead of Flask-Admin's inline rows, whose add button is an
    # inline script handler the Content-Security-Policy blocks.
    form_extra_fields = {
        f"dose{n}_{bound}": IntegerField(
            f"第{n}剂距上一剂{'最少' if bound == 'min' else '最多'}天数" + ("" if bound == "min" else "（空为不限）"),
            validators=[Optional(), NumberRange(min=0, max=3650, message="天数须在 0 到 3650 之间")])
        for n in range(2, MAX_DOSES + 1) for bound in ("min", "max")
    }

    def on_form_prefill(self, form, id):
        product = self.get_one(id)
        for rule in product.rules if product else ():
            getattr(form, f"dose{rule.dose_number}_min").data = rule.min_interval_days
            getattr(form, f"dose{rule.dose_number}_max").data = rule.max_interval_days

    def on_model_change(self, form, model, is_created):
        """Check, then audit in the same transaction Flask-Admin commits (the product never lands without its event)."""
        model.rules = _rules_from(form, model)
        with db.session.no_autoflush:
            for column, label in (("name", "疫苗品种"), ("code", "编码")):
                clash = db.session.execute(select(VaccineProduct.id).where(
                    getattr(VaccineProduct, column) == getattr(model, column), VaccineProduct.id != model.id)).first()
                if clash:
                    raise ValidationError(f"{label}“{getattr(model, column)}”已存在")
        db.session.flush()  # the new product's id, for its audit row
        record_event(current_user, "vaccine_product_created" if is_created else "vaccine_product_updated",
                     target_type="vaccine_product", target_id=model.id,
                     detail=f"{model.name} doses={model.primary_doses} booster={model.booster_after_days}")


def _rules_from(form, product):
    """The interval rules of the course, one per dose after the first; refuse gaps and doses it does not have."""
    existing = {r.dose_number: r for r in product.rules}
    rules = []
    for n in range(2, MAX_DOSES + 1):
        low, high = getattr(form, f"dose{n}_min").data, getattr(form, f"dose{n}_max").data
        if n > product.primary_doses:
            if low is not None or high is not None:
                raise ValidationError(f"基础免疫为 {product.primary_doses} 剂，不应填写第{n}剂的间隔")
            continue
        if low is None:
            raise ValidationError(f"请填写第{n}剂距上一剂最少天数")
        if high is not None and high < low:
            raise ValidationError(f"第{n}剂：最多天数不能小于最少天数")
        rule = existing.get(n) or VaccineDoseRule(dose_number=n)
        rule.min_interval_days, rule.max_interval_days = low, high
        rules.append(rule)
    return rules


class CenterVaccineView(RoleAccessMixin, BaseView):
    """Which products each station gives (the exit desk offers only those)."""

    role = CENTER

    @expose("/")
    def index(self):
        products = db.session.execute(select(VaccineProduct).order_by(VaccineProduct.name)).scalars().all()
        stations = db.session.execute(
            select(Station).where(Station.active.is_(True)).order_by(Station.name)).scalars().all()
        given = {}
        for station_id, product_id in db.session.execute(select(StationProduct.station_id, StationProduct.product_id)):
            given.setdefault(station_id, set()).add(product_id)
        return self.render("center/vaccines.html", products=products, stations=stations, given=given,
                           schedule=lambda p: _schedule(None, None, p, "rules"),
                           booster=lambda p: _booster(None, None, p, "booster_after_days"))

    @expose("/station/<int:station_id>", methods=("POST",))
    def station_products(self, station_id):
        station = db.session.get(Station, station_id)
        if station is None:
            flash("接种站不存在", "error")
            return redirect(self.get_url(".index"))
        try:
            chosen = [int(v) for v in request.form.getlist("product")]
            added, removed = set_station_products(current_user, station, chosen)
        except ValueError:
            db.session.rollback()
            flash("所选疫苗品种不存在，未作修改", "error")
            return redirect(self.get_url(".index"))
        db.session.commit()
        flash(f"{station.name}：新增 {added} 个品种，移除 {removed} 个品种", "success")
        return redirect(self.get_url(".index"))
