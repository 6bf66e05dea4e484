"""企业端: the enterprise's dashboard (企业看板), staff list (人员清单), own QR code and exports.

An enterprise sees only its own people. In 未提交 it corrects (操作 → 修改) or deletes
people who are not its staff, then submits them all (全部提交) or the ticked ones
(提交接种人员). Lists mask ID numbers and phones; exports carry them in full, scoped
to the enterprise and audited.
"""

import unicodedata
from urllib.parse import quote

from flask import (
    Response,
    abort,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    stream_with_context,
)
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_login import current_user
from sqlalchemy import and_, func, select, true
from sqlalchemy.exc import IntegrityError

from admin_views.base import PersonListView, RoleAccessMixin, query_args
from admin_views.enterprise_import import EnterpriseImportView
from admin_views.home import FunnelHomeView
from admin_views.labels import (
    ENTERPRISE_FIGURE_LABELS,
    GENDER_LABELS,
    STATUS_LABELS,
    dose_label,
    field_messages,
    figure_labels,
)
from extensions import db
from models import dose_counts, doses, persons
from models.audit import record_event
from models.base import today
from models.counters import status_totals
from models.options import PERSON_CATEGORY, option_labels
from models.org import AppointmentSlot, Station
from models.person import Person
from models.persons import DUPLICATE_ID, FIELD_ORDER
from models.status import (
    ALLOCATED,
    APPOINTED,
    CENTER_APPROVED,
    CHECKED_IN,
    DEPT_APPROVED,
    DUE_NEXT,
    NOT_VACCINATED,
    REGISTERED,
    SUBMITTED,
    VACCINATED,
)
from models.user import ENTERPRISE
from models.vaccines import VaccineProduct
from models.workflow import funnel_counts, person_scope
from services.qr import employee_form_url, enterprise_qr_response
from services.spreadsheets import XLSX_MIMETYPE, stream_xlsx

EXPORT_HEADERS = ("姓名", "性别", "身份证号", "年龄", "手机号", "人员类别", "是否住在滨海新区", "现居住小区", "备注",
                  "状态", "退回原因", "接种站", "预约时间", "填报时间", "提交时间", "来源")
# Each dose's group of columns after them (the column headers read 第1剂接种时间, 第1剂疫苗, …).
DOSE_EXPORT_COLUMNS = ("接种时间", "疫苗", "批号", "接种站")
EXPORT_TEXT_COLUMNS = (2, 4)  # ID number and phone: always text, never numbers
SOURCE_LABELS = {"qr": "扫码填报", "import": "批量导入", "console": "企业录入"}
VERSION_CONFLICT = "该人员信息已被他人修改或已提交，未保存您的修改。下面是最新信息，请核对后重新修改。"


def category_options():
    # Flask-Admin also asks while the console is built, outside any request: no list then.
    if not has_request_context():
        return []
    return [(label, label) for label in option_labels(PERSON_CATEGORY)]


def status_options():
    return [(status, label) for status, label in STATUS_LABELS.items()]


def export_statement(condition):
    """The export's columns of the persons matching `condition`, in id order, read 1,000 at a time."""
    return (
        select(Person.name, Person.gender, Person.id_number, Person.age, Person.phone, Person.category,
               Person.lives_in_binhai, Person.community, Person.remarks, Person.status, Person.return_reason,
               Station.name, AppointmentSlot.starts_at, AppointmentSlot.ends_at, Person.created_at,
               Person.submitted_at, Person.source, Person.id)
        .outerjoin(Station, Person.station_id == Station.id)
        .outerjoin(AppointmentSlot, Person.slot_id == AppointmentSlot.id)
        .where(condition)
        .order_by(Person.id)
        .execution_options(yield_per=1000)
    )


def export_response(condition, enterprise, actor, label="人员清单"):
    """Stream the persons matching `condition` (within the actor's scope) into an .xlsx download.

    After the person's columns, one column group per dose (第1剂, 第2剂, …, 加强): when, which
    vaccine and lot, and where — the record the enterprise tells its staff about.
    """
    statement = export_statement(and_(condition, person_scope(actor)))
    slots = doses.dose_slots(db.session.execute(select(func.max(VaccineProduct.primary_doses))).scalar() or 1)
    station_names = dict(db.session.execute(select(Station.id, Station.name)).all())
    headers = (*EXPORT_HEADERS, *(f"{dose_label(n, booster)}{column}" for n, booster in slots
                                  for column in DOSE_EXPORT_COLUMNS))
    lot_columns = tuple(len(EXPORT_HEADERS) + i * len(DOSE_EXPORT_COLUMNS) + 2 for i in range(len(slots)))
    written = [0]

    def dose_cells(record):
        if record is None:
            return ("",) * len(DOSE_EXPORT_COLUMNS)
        return (record.at, record.product_name or "", record.lot_number or "", station_names.get(record.station_id, ""))

    def rows():
        for batch in db.session.execute(statement).partitions():
            given = doses.given_doses([row.id for row in batch])
            for row in batch:
                written[0] += 1
                slot = f"{row.starts_at:%Y-%m-%d %H:%M}-{row.ends_at:%H:%M}" if row.starts_at else ""
                mine = given.get(row.id, {})
                yield (row.name, GENDER_LABELS.get(row.gender, ""), row.id_number, row.age, row.phone, row.category,
                       row.lives_in_binhai, row.community, row.remarks, STATUS_LABELS.get(row.status, row.status),
                       row.return_reason, row[11], slot, row.created_at, row.submitted_at,
                       SOURCE_LABELS.get(row.source, row.source),
                       *(cell for key in slots for cell in dose_cells(mine.get(key))))

    def body():
        # Streamed: the download starts at once and memory stays flat for 100,000 rows; the
        # audit event is written when the last row has left (or the download was dropped).
        try:
            yield from stream_xlsx(headers, rows(), title=label, text_columns=EXPORT_TEXT_COLUMNS + lot_columns,
                                   widths={0: 10, 2: 22, 4: 14, 7: 20, 8: 20, 10: 20, 11: 24, 12: 20, 13: 17,
                                           14: 17})
        finally:
            record_event(actor, "person_export", target_type="person", changed=written[0], requested=written[0],
                         detail=f"xlsx rows={written[0]}")
            db.session.commit()

    name = f"{enterprise.name}-{label}-{today():%Y%m%d}.xlsx"
    response = Response(stream_with_context(body()), mimetype=XLSX_MIMETYPE)
    response.headers.set("Content-Disposition", "attachment", **download_names(name))
    response.headers["Cache-Control"] = "no-cache"
    return response


def download_names(name):
    """filename= (ASCII) and filename*= (RFC 5987, UTF-8) for a Chinese download name, as send_file writes them."""
    try:
        name.encode("ascii")
        return {"filename": name}
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        return {"filename": simple, "filename*": "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")}


class EnterpriseHomeView(FunnelHomeView):
    figures = figure_labels(("declared", "submitted", "allocated", "vaccinated"), ENTERPRISE_FIGURE_LABELS)

    @expose("/")
    def index(self):
        counts = funnel_counts(person_scope(current_user))
        enterprise = current_user.enterprise
        return self.render(self.home_template, counts=counts, figures=self.figures, user=current_user,
                           enterprise=enterprise, form_url=employee_form_url(enterprise) if enterprise else None,
                           unsubmitted=counts["by_status"].get(REGISTERED, 0),
                           returned=_returned_count(current_user),
                           doses=dose_counts.enterprise_doses([enterprise.id]).get(enterprise.id, {}) if enterprise
                           else {})


def doses_text(person):
    """剂次 of a person: the doses given and, while 待续种, the next dose and its first day."""
    text = f"已接种 {person.doses_given} 剂"
    if person.status == DUE_NEXT and person.next_dose_earliest:
        text += f"，第{person.dose_number}剂 {person.next_dose_earliest:%Y-%m-%d} 起可接种"
    return text


def _returned_count(user):
    return db.session.execute(
        select(func.count()).select_from(Person)
        .where(person_scope(user), Person.status == REGISTERED, Person.return_reason.is_not(None))
    ).scalar_one()


class EnterprisePersonView(PersonListView):
    role = ENTERPRISE
    tabs = {
        "unsubmitted": ("未提交", (REGISTERED,)),
        "submitted": ("已提交", (SUBMITTED, DEPT_APPROVED, CENTER_APPROVED)),
        "allocated": ("已分配", (ALLOCATED, APPOINTED, CHECKED_IN, NOT_VACCINATED)),
        "due_next": ("待续种", (DUE_NEXT,)),
        "vaccinated": ("已接种", (VACCINATED,)),
    }
    default_tab = "unsubmitted"
    list_template = "enterprise/person_list.html"
    column_list = ("name", "gender", "id_number", "age", "phone", "category", "lives_in_binhai", "community",
                   "status", "return_reason", "created_at")
    # From 已分配 on the enterprise tells its staff where and when to go, and why a dose was not given.
    placed_columns = ("name", "gender", "id_number", "age", "phone", "category", "station", "slot", "status",
                      "not_vaccinated_reason")
    tab_columns = {
        "allocated": placed_columns,
        "due_next": placed_columns[:6] + ("doses_given",) + placed_columns[6:],
        "vaccinated": placed_columns[:6] + ("doses_given", "station", "status"),
    }
    column_sortable_list = ("name", "age", "category", "status", "created_at")
    column_searchable_list = ("name", "id_number")
    column_filters = [
        FilterEqual(Person.category, "人员类别", options=category_options),
        FilterEqual(Person.status, "状态", options=status_options),
    ]
    column_formatters = {
        **PersonListView.column_formatters,
        "lives_in_binhai": lambda view, context, model, name: "是" if model.lives_in_binhai else "否",
        "created_at": lambda view, context, model, name: f"{model.created_at:%Y-%m-%d %H:%M}",
        "doses_given": lambda view, context, model, name: doses_text(model),
    }
    column_labels = {**PersonListView.column_labels, "doses_given": "剂次"}
    bulk_buttons = (("submit", "全部提交", "是否确认全部提交？"),)

    refresh_filter_choices = True  # the category list is admin-editable
    list_columns_per_request = True  # each tab has its columns (tab_columns)

    def get_list_columns(self):
        # Built once outside any request (Flask-Admin's cache), then per request for its tab.
        tab = self.current_tab() if has_request_context() else None
        return self.get_column_names(only_columns=self.tab_columns.get(tab, self.column_list), excluded_columns=())

    def search_placeholder(self):
        return "姓名 / 身份证号 / 手机号"

    # ------------------------------------------------------------ batch actions on ticked rows

    def is_action_allowed(self, name):
        # Offer 提交/删除 only in 未提交, where they can apply; a posted action is still re-checked
        # row by row (status and scope), whatever page it came from.
        if name in ("submit", "remove") and request.method == "GET" and self.current_tab() != "unsubmitted":
            return False
        return super().is_action_allowed(name)

    @action("submit", "提交接种人员", "确认提交选中的人员？")
    def action_submit(self, ids):
        self.run_transition("submit", ids=ids)

    @action("remove", "删除", "确认删除选中的人员？只能删除未提交的人员，删除后不可恢复。")
    def action_remove(self, ids):
        requested, deleted = persons.delete_registered(current_user, ids)
        db.session.commit()
        skipped = requested - deleted
        flash(f"已删除 {deleted} 人，跳过 {skipped} 人（已提交或无权限）", "success" if deleted else "warning")

    @action("export_selected", "导出选中人员")
    def action_export(self, ids):
        clean = sorted({int(i) for i in ids if str(i).isdigit()})
        if not clean:
            flash("请先勾选要导出的人员", "warning")
            return None
        return export_response(Person.id.in_(clean), current_user.enterprise, current_user, label="人员清单-选中")

    # ------------------------------------------------------------ 导出全部

    @expose("/export")
    def export_all(self):
        """导出全部: every row of the current list (tab, search, filters), or everyone with ?all=1."""
        if request.args.get("all") == "1":
            return export_response(true(), current_user.enterprise, current_user, label="全部人员")
        label = self.tabs[self.current_tab()][0]
        return export_response(self.current_list_condition(), current_user.enterprise, current_user,
                               label=f"人员清单-{label}")

    # ------------------------------------------------------------ 操作: edit one person

    def own_person(self, person_id):
        person = db.session.execute(
            select(Person).where(Person.id == person_id, person_scope(current_user))
        ).scalar_one_or_none()
        if person is None:
            abort(404)
        return person

    @expose("/person/<int:person_id>/edit", methods=("GET", "POST"))
    def edit_person(self, person_id):
        person = self.own_person(person_id)
        back = request.values.get("url") or self.get_url(".index_view", tab="unsubmitted")
        if not back.startswith("/enterprise/"):
            back = self.get_url(".index_view", tab="unsubmitted")
        if person.status != REGISTERED:
            flash("该人员已提交，不能修改；如需更正请联系审核部门退回", "warning")
            return redirect(back)
        categories = option_labels(PERSON_CATEGORY)
        if person.category and person.category not in categories:
            categories.append(person.category)
        errors, notice = {}, None
        values = _values_of(person)
        if request.method == "POST":
            values = {key: (request.form.get(key) or "").strip() for key in FIELD_ORDER}
            outcome = self.save_person(person, values, categories, request.form.get("version"))
            if outcome is True:
                flash(f"已保存 {values['name']} 的信息", "success")
                return redirect(back)
            errors, notice = outcome
            if notice:
                db.session.expire_all()
                person = self.own_person(person_id)
                values = _values_of(person)
                if person.status != REGISTERED:
                    flash("该人员已提交，不能修改", "warning")
                    return redirect(back)
        return self.render("enterprise/person_edit.html", person=person, values=values, errors=errors,
                           notice=notice, categories=categories, back=back)

    def save_person(self, person, values, categories, posted_version):
        """Write one edit and commit; return True, or (errors, conflict notice)."""
        try:
            outcome = persons.edit_person(current_user, person, values, categories, posted_version)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # the ID number was registered elsewhere a moment ago
            return field_messages({"id_number": DUPLICATE_ID}), None
        if outcome.conflict:
            db.session.rollback()
            return {}, VERSION_CONFLICT
        return True if outcome.saved else (field_messages(outcome.errors), None)

    def render(self, template, **kwargs):
        if template == self.list_template:
            kwargs.setdefault("export_url", self.get_url(".export_all", **query_args()))
            kwargs.setdefault("all_tab_counts", self.tab_counts())
        return super().render(template, **kwargs)


    def tab_counts(self):
        """{tab: people} for every tab, as the review and center consoles show them (one counters query)."""
        totals = status_totals(self.scope_condition())
        return {key: sum(totals.get(status, 0) for status in statuses) for key, (_, statuses) in self.tabs.items()}


def _values_of(person):
    values = {key: getattr(person, key) for key in FIELD_ORDER}
    values["lives_in_binhai"] = "是" if person.lives_in_binhai else "否"
    values["age"] = str(person.age)
    return values


class EnterpriseQrView(RoleAccessMixin, BaseView):
    """企业专属二维码: show, download, print as a poster, and reset (rotating the token)."""

    role = ENTERPRISE

    def is_accessible(self):
        return super().is_accessible() and current_user.enterprise is not None

    @expose("/")
    def index(self):
        enterprise = current_user.enterprise
        return self.render("enterprise/qr.html", enterprise=enterprise, form_url=employee_form_url(enterprise))

    @expose("/qr.png")
    def qr_png(self):
        return enterprise_qr_response(current_user.enterprise, download=request.args.get("download") == "1")

    @expose("/poster")
    def poster(self):
        enterprise = current_user.enterprise
        return render_template("public/poster.html", enterprise=enterprise, qr_src=self.get_url(".qr_png"),
                               form_url=employee_form_url(enterprise))

    @expose("/rotate", methods=("POST",))
    def rotate(self):
        enterprise = current_user.enterprise
        enterprise.rotate_qr_token()
        record_event(current_user, "qr_token_rotated", target_type="enterprise", target_id=enterprise.id)
        db.session.commit()
        flash("企业专属二维码已重置：旧二维码已失效，请下载新二维码重新下发给员工", "success")
        return redirect(self.get_url(".index"))


def build_console(admin):
    admin.add_view(EnterprisePersonView(name="人员清单", endpoint="enterprise_persons"))
    admin.add_view(EnterpriseImportView(name="批量导入", endpoint="enterprise_import", url="import"))
    admin.add_view(EnterpriseQrView(name="企业专属二维码", endpoint="enterprise_qr", url="qr"))


def home_view():
    return EnterpriseHomeView(ENTERPRISE, name="企业看板", template="enterprise/home.html")

