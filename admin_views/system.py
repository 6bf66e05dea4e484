"""系统管理: accounts, territories, review departments (tree and import), stations, option lists, logs.

Issued passwords (new account, reset) appear once, in the answer to the POST that
made them, and nowhere else; password and SMS-code hashes are never shown.
"""

import base64
import re
from datetime import datetime, time

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.filters import (
    BaseSQLAFilter,
    BooleanEqualFilter,
    DateTimeBetweenFilter,
    DateTimeGreaterFilter,
    DateTimeSmallerFilter,
    FilterEqual,
    FilterLike,
)
from flask_admin.menu import MenuLink
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import func, or_, select, update
from wtforms import SelectField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from admin_views.base import ConsoleHomeView, RoleAccessMixin, bounded_int
from admin_views.labels import DIMENSION_LABELS, ROLE_LABELS, STATUS_LABELS, TRANSITION_LABELS, error_text
from admin_views.reader_tokens import ReaderTokenView
from extensions import db
from models import AuditEvent, Enterprise, JobRun, OptionItem, ReviewDepartment, SmsMessage, Station, Territory, User
from models.accounts import AccountError, create_account
from models.audit import record_event
from models.base import now, today
from models.options import AEFI_SYMPTOM, NOT_VACCINATED_REASON, PERSON_CATEGORY
from models.org import INDUSTRY, TERRITORY, AppointmentSlot
from models.passwords import random_password
from models.user import ADMIN, ENTERPRISE, REVIEW, STATION
from models.vaccines import VaccineProduct
from public_forms.person_data import FIELD_LABELS
from services.spreadsheets_departments import (
    USERNAME_PATTERN,
    XLSX_MIMETYPE,
    DepartmentSheetError,
    clean_phone,
    credentials_workbook,
    department_template_workbook,
    import_departments,
    read_department_sheet,
)

MOBILE = Regexp(r"^1[3-9]\d{9}$", message="请输入正确的11位手机号")
NO_STORE = {"Cache-Control": "no-store"}

ACTION_LABELS = {
    **TRANSITION_LABELS,
    "login": "登录", "login_failed": "登录失败", "password_changed": "修改密码",
    "password_reset_by_sms": "短信找回密码", "password_reset_by_admin": "管理员重置密码",
    "account_created": "新建账号", "account_updated": "修改账号", "account_unlocked": "解锁账号",
    "account_disabled": "停用账号", "account_enabled": "启用账号", "view_person": "查看人员详情",
    "import_departments": "导入审核部门", "sms_resend": "重新发送短信",
    "vaccine_product_created": "新增疫苗品种", "vaccine_product_updated": "修改疫苗品种",
    "station_products": "设置接种站疫苗品种", "interval_override_refused": "提前接种批准失败",
    "slots_created": "新建预约时段", "slot_capacity_changed": "修改时段容量", "slot_deleted": "删除预约时段",
    "reservations_moved": "调整第2剂预留时段",
}
TARGET_LABELS = {"person": "人员", "user": "账号", "department": "审核部门", "enterprise": "企业", "sms": "短信",
                 "station": "接种站", "slot": "预约时段", "vaccine_product": "疫苗品种"}
SMS_KIND_LABELS = {"notice": "通知", "reset_code": "找回密码验证码", "appointment": "预约通知",
                   "appointment_change": "改约通知", "appointment_cancel": "取消预约通知",
                   "reservation_change": "第2剂预留变更通知",
                   "reminder_day_before": "前一天提醒", "reminder_hours_before": "接种前提醒"}
SMS_STATUS_LABELS = {"queued": "待发送", "sending": "发送中", "sent": "已发送", "delivered": "已送达",
                     "failed": "发送失败"}
SMS_BACKEND_LABELS = {"outbox": "发件箱", "primary": "主通道", "fallback": "备用通道"}
JOB_LABELS = {"check_data": "数据一致性检查", "purge": "清理过期数据"}


def labelled(labels):
    """A list formatter showing the Chinese label of a coded value."""
    def formatter(view, context, model, name):
        value = getattr(model, name)
        return labels.get(value, value)
    return formatter


def status_list(view, context, model, name):
    """One status or several (the sources of a transition), by their labels."""
    value = getattr(model, name)
    return "、".join(STATUS_LABELS.get(status, status) for status in value.split(",")) if value else ""


DETAIL_KEYS = {"moved": "已改到其他时段", "lost": "预留已取消",
               "ids": "编号", "rows": "行数", "inserted": "导入", "rejected": "未导入", "fields": "修改项",
               "card_read": "读卡记录", "station": "接种站", "slot": "时段", "name": "名称", "xlsx rows": "导出行数",
               "created": "新建", "capacity": "容量"}
DETAIL_PART = re.compile(r"(xlsx rows|[a-z_]+)=(\S*)")


def _parsed_detail(text):
    """[(key, value)] of a `key=value …` detail, or None for free text (shown as written)."""
    parts = DETAIL_PART.findall(text or "")
    return parts if parts and not DETAIL_PART.sub("", text).strip() else None


def detail_names(events):
    """{(key, value): words} for the stations and slots the details of a page name, in two queries."""
    wanted = {"station": set(), "slot": set()}
    for event in events:
        for key, value in _parsed_detail(event.detail) or ():
            if key in wanted and value.isdigit() and len(value) < 10:
                wanted[key].add(int(value))
    names = {}
    for key, model in (("station", Station), ("slot", AppointmentSlot)):
        if wanted[key]:
            for row in db.session.execute(select(model).where(model.id.in_(wanted[key]))).scalars():
                names[(key, str(row.id))] = str(row)
    return names


def _detail_value(key, value, names):
    """A stored value as a reader knows it: names of stations, windows of slots, labels of fields."""
    if key == "fields":
        return "、".join(FIELD_LABELS.get(field, field) for field in value.split(","))
    return names.get((key, value), value)


def audit_detail(view, context, model, name):
    """详情 in words: `station=10 slot=361` reads 接种站 大港医院接种点，时段 2026-05-01 08:00-09:00."""
    parts = _parsed_detail(model.detail)
    if parts is None:
        return model.detail or ""
    names = request.environ.get("binhai.detail_names", {})  # the page's, from AuditEventView.get_list
    return "，".join(f"{DETAIL_KEYS.get(key, key)} {_detail_value(key, value, names)}" for key, value in parts)


def yes_no(view, context, model, name):
    return "是" if getattr(model, name) else "否"


class AdminModelView(RoleAccessMixin, ModelView):
    role = ADMIN
    page_size = 50
    column_default_sort = ("id", False)
    can_delete = False  # rows are referenced everywhere; stations and options are switched off instead

    def __init__(self, model, name=None, endpoint=None, **kwargs):
        super().__init__(model, db, name=name, endpoint=endpoint, **kwargs)

    def get_one(self, id):
        """?id= outside the integer column's range: not found, as an id that does not exist."""
        return super().get_one(id) if bounded_int(id) is not None else None


class ReadOnlyView(AdminModelView):
    can_create = can_edit = can_delete = False
    column_display_actions = False
    column_default_sort = ("id", True)


def optional_id(value):
    if value in (None, "", "None"):
        return None
    number = bounded_int(value)
    if number is None:
        raise ValueError("不是有效的选项")
    return number


class ForeignKeySelectMixin:
    """Plain selects for foreign keys: Flask-Admin's relation fields give WTForms 3.3 deprecated tuples."""

    foreign_keys = {}  # form field -> (model whose rows are offered, label of the empty choice)

    def _fill_choices(self, form):
        for field_name, (model, blank) in self.foreign_keys.items():
            rows = db.session.execute(select(model.id, model.name).order_by(model.name)).all()
            getattr(form, field_name).choices = [SelectChoice("", blank)] + [SelectChoice(r.id, r.name) for r in rows]
        return form

    def create_form(self, obj=None):
        return self._fill_choices(super().create_form(obj))

    def edit_form(self, obj=None):
        return self._fill_choices(super().edit_form(obj))


# ---------------------------------------------------------------- accounts

class LockedFilter(BaseSQLAFilter):
    def apply(self, query, value, alias=None):
        locked = User.locked_until > now()
        return query.filter(locked if value == "1" else or_(User.locked_until.is_(None), ~locked))

    def operation(self):
        return "为"


class NewAccountForm(FlaskForm):
    username = StringField("账号", validators=[
        DataRequired("请输入账号"),
        Regexp(USERNAME_PATTERN.pattern.join("^$"), message="账号只能由3-64位字母、数字、下划线、点或横线组成"),
    ])
    role = SelectField("角色", choices=ROLE_LABELS)
    display_name = StringField("名称", validators=[Optional(), Length(max=100)])
    phone = StringField("手机号", validators=[Optional(), MOBILE])
    department = SelectField("审核部门", coerce=int)
    station = SelectField("接种站", coerce=int)
    credit_code = StringField("企业统一社会信用代码", validators=[Optional(), Length(max=18)])


def username_link(view, context, model, name):
    return Markup('<a href="{0}">{1}</a>').format(url_for("admin_users.manage_view", user_id=model.id), model.username)


def lock_state(view, context, model, name):
    return f"已锁定至 {model.locked_until:%H:%M}" if model.is_locked() else ""


class UserView(AdminModelView):
    can_create = False  # accounts are made on the 新建账号 page, which shows the initial password once
    can_edit = True
    list_template = "system/user_list.html"
    column_list = ("username", "display_name", "role", "phone", "active", "locked_until", "must_change_password",
                   "last_login_at")
    column_searchable_list = ("username", "display_name", "phone")
    column_filters = (
        FilterEqual(User.role, "角色", options=list(ROLE_LABELS.items())),
        BooleanEqualFilter(User.active, "启用"),
        LockedFilter(User.locked_until, "锁定", options=[("1", "已锁定"), ("0", "未锁定")]),
    )
    column_labels = {"username": "账号", "display_name": "名称/单位", "role": "角色", "phone": "手机号",
                     "active": "启用", "locked_until": "锁定", "must_change_password": "须改密码",
                     "last_login_at": "最近登录"}
    form_columns = ("display_name", "phone", "active", "is_supervisor")
    form_args = {"display_name": {"label": "名称/单位", "validators": [Length(max=100)]},
                 "phone": {"label": "手机号", "validators": [Optional(), MOBILE]},
                 "active": {"label": "启用"},
                 "is_supervisor": {"label": "接种站主管（可批准间隔不足时提前接种）"}}

    column_formatters = {"username": username_link, "role": labelled(ROLE_LABELS), "active": yes_no,
                         "must_change_password": yes_no, "locked_until": lock_state}

    def on_model_change(self, form, model, is_created):
        if model.id == current_user.id and not model.active:
            raise ValidationError("不能停用当前登录的账号")
        if not model.active and not is_created:
            model.session_version = User.session_version + 1  # ends its sessions, also if enabled again
        model.phone = model.phone or None
        record_event(current_user, "account_updated", target_type="user", target_id=model.id)

    # -------------------------------------------------- batch actions (set-based)

    def _set_many(self, ids, event, message, **values):
        chosen = [int(i) for i in ids if str(i).isdigit()]
        statement = update(User).where(User.id.in_(chosen))
        if values.get("active") is False:
            statement = statement.where(User.id != current_user.id)
        changed = db.session.execute(statement.values(**values).execution_options(synchronize_session=False)).rowcount
        record_event(current_user, event, target_type="user", detail="ids=" + ",".join(map(str, chosen)),
                     requested=len(chosen), changed=changed)
        db.session.commit()
        flash(f"{message} {changed} 个账号", "success")

    @action("unlock", "解锁", "确认解锁选中的账号？")
    def action_unlock(self, ids):
        self._set_many(ids, "account_unlocked", "已解锁", locked_until=None, failed_logins=0, failures_since=None)

    @action("disable", "停用", "确认停用选中的账号？")
    def action_disable(self, ids):
        self._set_many(ids, "account_disabled", "已停用", active=False, session_version=User.session_version + 1)

    @action("enable", "启用", "确认启用选中的账号？")
    def action_enable(self, ids):
        self._set_many(ids, "account_enabled", "已启用", active=True)

    # -------------------------------------------------- one account

    def _account_or_404(self, user_id):
        user = db.session.get(User, user_id)
        if user is None:
            abort(404)
        return user

    def _password_page(self, user, password, title):
        response = self.render("system/password_once.html", account=user, password=password, title=title,
                               role_labels=ROLE_LABELS)
        return response, 200, NO_STORE

    @expose("/new-account/", methods=("GET", "POST"))
    def new_account_view(self):
        form = NewAccountForm()
        departments = db.session.execute(
            select(ReviewDepartment.id, ReviewDepartment.name).order_by(ReviewDepartment.sort_order,
                                                                        ReviewDepartment.name)).all()
        stations = db.session.execute(select(Station.id, Station.name).order_by(Station.name)).all()
        none = SelectChoice(0, "（不适用）")
        form.department.choices = [none] + [SelectChoice(row.id, row.name) for row in departments]
        form.station.choices = [none] + [SelectChoice(row.id, row.name) for row in stations]
        error = None
        if form.validate_on_submit():
            unit, error = self._unit_of(form)
            if error is None:
                password = random_password()
                try:
                    user = create_account(current_user, role=form.role.data, username=form.username.data,
                                          password=password, unit=unit, phone=form.phone.data,
                                          display_name=form.display_name.data)
                except AccountError as problem:
                    error = error_text(problem)
                else:
                    db.session.commit()
                    return self._password_page(user, password, "账号已创建")
        elif form.errors:
            error = next(iter(form.errors.values()))[0]
        return self.render("system/user_new.html", form=form, error=error)

    def _unit_of(self, form):
        """The department, station or enterprise the form names for its role; (unit, problem)."""
        role = form.role.data
        if role == REVIEW:
            unit = db.session.get(ReviewDepartment, form.department.data or 0)
            return unit, None if unit else "审核部门端账号须选择审核部门"
        if role == STATION:
            unit = db.session.get(Station, form.station.data or 0)
            return unit, None if unit else "接种站端账号须选择接种站"
        if role == ENTERPRISE:
            code = (form.credit_code.data or "").strip().upper()
            unit = db.session.execute(select(Enterprise).where(Enterprise.credit_code == code)).scalar_one_or_none()
            return unit, None if unit else "找不到该统一社会信用代码的企业"
        return None, None

    @expose("/manage/<int:user_id>/")
    def manage_view(self, user_id):
        user = self._account_or_404(user_id)
        return self.render("system/user_manage.html", account=user, role_labels=ROLE_LABELS,
                           locked=user.is_locked(), is_self=user.id == current_user.id,
                           failures=user.failures_counted(current_app.config["LOGIN_LOCK_MINUTES"]))

    @expose("/manage/<int:user_id>/reset-password/", methods=("POST",))
    def reset_password_view(self, user_id):
        user = self._account_or_404(user_id)
        password = random_password()
        user.set_password(password)
        user.must_change_password = True
        user.unlock()
        user.end_sessions()
        record_event(current_user, "password_reset_by_admin", target_type="user", target_id=user.id)
        db.session.commit()
        return self._password_page(user, password, "密码已重置")

    @expose("/manage/<int:user_id>/unlock/", methods=("POST",))
    def unlock_view(self, user_id):
        user = self._account_or_404(user_id)
        user.unlock()
        record_event(current_user, "account_unlocked", target_type="user", target_id=user.id)
        db.session.commit()
        flash(f"账号 {user.username} 已解锁", "success")
        return redirect(url_for(".manage_view", user_id=user.id))

    @expose("/manage/<int:user_id>/active/", methods=("POST",))
    def set_active_view(self, user_id):
        user = self._account_or_404(user_id)
        active = request.form.get("active") == "1"
        if user.id == current_user.id and not active:
            flash("不能停用当前登录的账号", "error")
        else:
            user.active = active
            if not active:
                user.end_sessions()
            record_event(current_user, "account_enabled" if active else "account_disabled", target_type="user",
                         target_id=user.id)
            db.session.commit()
            flash(f"账号 {user.username} 已{'启用' if active else '停用'}", "success")
        return redirect(url_for(".manage_view", user_id=user.id))


# ---------------------------------------------------------------- units

class TerritoryView(AdminModelView):
    column_default_sort = ("sort_order", False)
    column_list = ("name", "sort_order")
    column_searchable_list = ("name",)
    column_labels = {"name": "名称", "sort_order": "排序"}
    form_columns = ("name", "sort_order")
    form_args = {"name": {"label": "名称", "validators": [DataRequired("请输入名称"), Length(max=64)]},
                 "sort_order": {"label": "排序"}}


def check_department_phone(form, field):
    try:
        field.data, _ = clean_phone(field.data)
    except ValueError as error:
        raise ValidationError("联系电话格式不正确（手机号11位，座机如 022-65301234）") from error


class ReviewDepartmentView(ForeignKeySelectMixin, AdminModelView):
    list_template = "system/department_list.html"
    column_default_sort = ("sort_order", False)
    column_list = ("name", "dimension", "parent", "contact_phone", "sort_order")
    column_searchable_list = ("name",)
    column_filters = (FilterEqual(ReviewDepartment.dimension, "维度", options=list(DIMENSION_LABELS.items())),)
    column_labels = {"name": "名称", "dimension": "维度", "parent": "上级部门", "contact_phone": "联系电话",
                     "sort_order": "排序"}
    column_formatters = {"dimension": labelled(DIMENSION_LABELS)}
    form_columns = ("name", "dimension", "parent_id", "contact_phone", "sort_order")
    form_overrides = {"dimension": SelectField, "parent_id": SelectField}
    foreign_keys = {"parent_id": (ReviewDepartment, "（无上级部门）")}
    form_args = {
        "name": {"label": "名称", "validators": [DataRequired("请输入名称"), Length(max=100)]},
        "dimension": {"label": "维度", "choices": DIMENSION_LABELS},
        "parent_id": {"label": "上级部门", "coerce": optional_id},
        "contact_phone": {"label": "联系电话", "validators": [check_department_phone]},
        "sort_order": {"label": "排序"},
    }

    def on_model_change(self, form, model, is_created):
        model.contact_phone = model.contact_phone or None
        with db.session.no_autoflush:
            parent = db.session.get(ReviewDepartment, model.parent_id) if model.parent_id else None
            if parent is not None and parent.dimension != model.dimension:
                raise ValidationError(f"维度须与上级部门“{parent.name}”一致（{DIMENSION_LABELS[parent.dimension]}）")
            seen = {model.id}
            while parent is not None:
                if parent.id in seen:
                    raise ValidationError("上级部门不能是本部门或其下级部门")
                seen.add(parent.id)
                parent = parent.parent

    @expose("/tree/")
    def tree_view(self):
        """The departments as a tree in the two dimensions, with their accounts and enterprise counts."""
        departments = db.session.execute(
            select(ReviewDepartment).order_by(ReviewDepartment.sort_order, ReviewDepartment.name)).scalars().all()
        enterprise_counts = dict(db.session.execute(
            select(Enterprise.department_id, func.count()).group_by(Enterprise.department_id)).all())
        accounts = {}
        for department_id, username in db.session.execute(
            select(User.department_id, User.username).where(User.role == REVIEW).order_by(User.username)
        ):
            accounts.setdefault(department_id, []).append(username)
        children = {}
        for department in departments:
            children.setdefault(department.parent_id, []).append(department)

        def node(department):
            return {"department": department, "enterprises": enterprise_counts.get(department.id, 0),
                    "accounts": accounts.get(department.id, []),
                    "children": [node(child) for child in children.get(department.id, [])]}

        roots = [(DIMENSION_LABELS[dimension],
                  [node(d) for d in children.get(None, []) if d.dimension == dimension])
                 for dimension in (INDUSTRY, TERRITORY)]
        return self.render("system/department_tree.html", roots=roots, total=len(departments))

    @expose("/import/", methods=("GET", "POST"))
    def import_view(self):
        """批量导入: a department sheet in, departments and accounts created, the credentials sheet out."""
        if request.method == "GET":
            return self.render("system/department_import.html")
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return self.render("system/department_import.html", problems=["请选择要上传的 .xlsx 文件"])
        try:
            rows = read_department_sheet(upload.stream)
        except DepartmentSheetError as error:
            return self.render("system/department_import.html", problems=[str(error)])
        result, problems = import_departments(rows, current_user)
        if problems:
            db.session.rollback()
            return self.render("system/department_import.html", problems=problems)
        sheet = credentials_workbook(result.credentials) if result.credentials else None
        db.session.commit()
        download = f"data:{XLSX_MIMETYPE};base64,{base64.b64encode(sheet).decode()}" if sheet else None
        stem = re.sub(r"[^\w\-]+", "_", (upload.filename or "departments").rsplit(".", 1)[0])
        response = self.render("system/department_import.html", result=result, download=download,
                               download_name=f"{stem}-账号密码-{now():%Y%m%d%H%M%S}.xlsx")
        return response, 200, NO_STORE

    @expose("/import/template.xlsx")
    def import_template_view(self):
        return (department_template_workbook(), 200, {
            "Content-Type": XLSX_MIMETYPE,
            "Content-Disposition": "attachment; filename=departments-template.xlsx",
        })


class StationView(ForeignKeySelectMixin, AdminModelView):
    column_list = ("name", "address", "territory", "contact_phone", "active", "default_vaccine_product",
                   "default_vaccine_lot")
    column_searchable_list = ("name", "address")
    column_filters = (BooleanEqualFilter(Station.active, "启用"),)
    column_labels = {"name": "名称", "address": "地址", "territory": "所属辖区", "contact_phone": "联系电话",
                     "active": "启用", "default_vaccine_product": "默认疫苗产品", "default_vaccine_lot": "默认批号"}
    column_formatters = {"active": yes_no}
    form_columns = ("name", "address", "territory_id", "contact_phone", "active", "default_vaccine_product",
                    "default_vaccine_lot")
    form_overrides = {"territory_id": SelectField}
    foreign_keys = {"territory_id": (Territory, "（未指定）")}
    form_args = {
        "name": {"label": "名称", "validators": [DataRequired("请输入名称"), Length(max=100)]},
        "address": {"label": "地址", "validators": [Length(max=200)]},
        "territory_id": {"label": "所属辖区", "coerce": optional_id},
        "contact_phone": {"label": "联系电话", "validators": [check_department_phone]},
        "active": {"label": "启用"},
        "default_vaccine_product": {"label": "默认疫苗产品"},
        "default_vaccine_lot": {"label": "默认批号"},
    }


class OptionListView(AdminModelView):
    """One option list (人员类别 or 未接种原因); entries no longer wanted are switched off, not deleted."""

    column_default_sort = ("sort_order", False)
    column_list = ("label", "sort_order", "active")
    column_labels = {"label": "选项", "sort_order": "排序", "active": "启用"}
    column_formatters = {"active": yes_no}
    form_columns = ("label", "sort_order", "active")
    form_args = {"label": {"label": "选项", "validators": [DataRequired("请输入选项"), Length(max=100)]},
                 "sort_order": {"label": "排序"}, "active": {"label": "启用"}}

    def __init__(self, kind, **kwargs):
        self.kind = kind
        super().__init__(OptionItem, **kwargs)

    def get_query(self):
        return super().get_query().filter(OptionItem.kind == self.kind)

    def get_count_query(self):
        return super().get_count_query().filter(OptionItem.kind == self.kind)

    def get_one(self, id):
        key = bounded_int(id)
        return self.get_query().filter(OptionItem.id == key).one_or_none() if key is not None else None

    def on_model_change(self, form, model, is_created):
        model.kind = self.kind
        with db.session.no_autoflush:
            clash = db.session.execute(select(OptionItem.id).where(
                OptionItem.kind == self.kind, OptionItem.label == model.label, OptionItem.id != model.id)).first()
        if clash:
            raise ValidationError(f"选项“{model.label}”已存在")


# ---------------------------------------------------------------- logs

class AuditEventView(ReadOnlyView):
    column_list = ("at", "username", "role", "action", "target_type", "target_id", "from_status", "to_status",
                   "requested", "changed", "reason", "detail")

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        result = super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)
        if execute:  # the station and slot names of the page's 详情, looked up together
            request.environ["binhai.detail_names"] = detail_names(result[1])
        return result
    column_filters = (
        FilterEqual(AuditEvent.username, "账号"),
        FilterEqual(AuditEvent.action, "操作", options=sorted(ACTION_LABELS.items(), key=lambda item: item[1])),
        DateTimeBetweenFilter(AuditEvent.at, "时间"),
        DateTimeGreaterFilter(AuditEvent.at, "时间"),
        DateTimeSmallerFilter(AuditEvent.at, "时间"),
    )
    column_labels = {"at": "时间", "username": "账号", "role": "角色", "action": "操作", "target_type": "对象",
                     "target_id": "对象编号", "from_status": "原状态", "to_status": "新状态", "requested": "请求数",
                     "changed": "处理数", "reason": "原因", "detail": "详情"}
    column_formatters = {"action": labelled(ACTION_LABELS), "role": labelled(ROLE_LABELS),
                         "target_type": labelled(TARGET_LABELS), "from_status": status_list,
                         "to_status": status_list, "detail": audit_detail}


class SmsMessageView(ReadOnlyView):
    """短信记录: every message, its state, attempts and the backend that sent it; 重新发送 the failed."""

    column_list = ("created_at", "phone", "kind", "status", "attempts", "backend", "body", "sent_at",
                   "delivered_at", "error")
    column_filters = (
        FilterLike(SmsMessage.phone, "手机号"),
        FilterEqual(SmsMessage.kind, "类型", options=list(SMS_KIND_LABELS.items())),
        FilterEqual(SmsMessage.status, "状态", options=list(SMS_STATUS_LABELS.items())),
        FilterEqual(SmsMessage.backend, "发送通道", options=list(SMS_BACKEND_LABELS.items())),
        DateTimeBetweenFilter(SmsMessage.created_at, "时间"),
    )
    column_labels = {"phone": "手机号", "body": "内容", "kind": "类型", "status": "状态", "created_at": "时间",
                     "sent_at": "发送时间", "delivered_at": "送达时间", "error": "错误", "attempts": "发送次数",
                     "backend": "发送通道"}
    column_formatters = {"kind": labelled(SMS_KIND_LABELS), "status": labelled(SMS_STATUS_LABELS),
                         "backend": labelled(SMS_BACKEND_LABELS)}

    @action("resend", "重新发送", "确认重新发送选中的失败短信？")
    def action_resend(self, ids):
        from services.sms import resend

        chosen = [number for number in (bounded_int(i) for i in ids) if number is not None]
        queued = resend(chosen)
        record_event(current_user, "sms_resend", target_type="sms", detail="ids=" + ",".join(map(str, chosen)),
                     requested=len(chosen), changed=queued)
        db.session.commit()
        skipped = len(chosen) - queued
        flash(f"已重新排队发送 {queued} 条，跳过 {skipped} 条（不是发送失败的短信，或是验证码短信）",
              "success" if queued and not skipped else "warning")


class JobRunView(ReadOnlyView):
    """后台任务: the results of the scheduled jobs (nightly check-data, clean-ups)."""

    column_list = ("job", "started_at", "finished_at", "ok", "summary")
    column_filters = (FilterEqual(JobRun.job, "任务", options=list(JOB_LABELS.items())),
                      DateTimeBetweenFilter(JobRun.started_at, "开始时间"))
    column_labels = {"job": "任务", "started_at": "开始时间", "finished_at": "结束时间", "ok": "结果",
                     "summary": "结果详情"}
    column_formatters = {
        "job": labelled(JOB_LABELS),
        "ok": lambda view, context, model, name: {True: "通过", False: "发现问题"}.get(model.ok, "运行中"),
        "summary": lambda view, context, model, name: Markup("<pre class=\"job-summary\">{}</pre>").format(
            model.summary or ""),
    }


# ---------------------------------------------------------------- home

def _count(column, *conditions):
    return db.session.execute(select(func.count(column)).where(*conditions)).scalar_one()


class SystemHomeView(ConsoleHomeView):
    @expose("/")
    def index(self):
        by_role = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
        figures = {
            "locked": _count(User.id, User.locked_until > now()),
            "disabled": _count(User.id, User.active.is_(False)),
            "departments": _count(ReviewDepartment.id),
            "stations": _count(Station.id, Station.active.is_(True)),
            "sms_today": _count(SmsMessage.id, SmsMessage.created_at >= datetime.combine(today(), time())),
        }
        return self.render("system/home.html", by_role=by_role, role_labels=ROLE_LABELS, figures=figures)


def build_console(admin):
    admin.add_view(UserView(User, name="账号管理", endpoint="admin_users"))
    admin.add_view(TerritoryView(Territory, name="辖区", endpoint="admin_territories"))
    admin.add_view(ReviewDepartmentView(ReviewDepartment, name="部门列表", endpoint="admin_departments",
                                        category="审核部门"))
    admin.add_link(MenuLink("部门树", endpoint="admin_departments.tree_view", category="审核部门"))
    admin.add_link(MenuLink("批量导入", endpoint="admin_departments.import_view", category="审核部门"))
    admin.add_view(StationView(Station, name="接种站", endpoint="admin_stations"))
    admin.add_view(OptionListView(PERSON_CATEGORY, name="人员类别", endpoint="admin_option_categories",
                                  category="选项列表"))
    admin.add_view(OptionListView(NOT_VACCINATED_REASON, name="未接种原因", endpoint="admin_option_reasons",
                                  category="选项列表"))
    admin.add_view(OptionListView(AEFI_SYMPTOM, name="异常反应症状", endpoint="admin_option_aefi_symptoms",
                                  category="选项列表"))
    from admin_views.vaccines import VaccineProductView  # it builds on this module's AdminModelView

    admin.add_view(VaccineProductView(VaccineProduct, name="疫苗品种", endpoint="admin_vaccines"))
    admin.add_view(AuditEventView(AuditEvent, name="审计日志", endpoint="admin_audit"))
    admin.add_view(SmsMessageView(SmsMessage, name="短信记录", endpoint="admin_sms"))
    admin.add_view(JobRunView(JobRun, name="后台任务", endpoint="admin_jobs"))
    admin.add_view(ReaderTokenView(name="读卡器令牌", endpoint="admin_reader_tokens"))


def home_view():
    return SystemHomeView(ADMIN, name="系统管理")
