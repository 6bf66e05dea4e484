"""审核部门端: first approval (初审) of the persons of the department's enterprises.

The department sees the enterprises whose 申报部门 is itself or one of its child units
(models.workflow scoping), approves people in bulk or by ticked rows, and returns
ticked people to their enterprise with a reason the enterprise then sees.
"""

from urllib.parse import urlsplit

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user
from sqlalchemy import and_, case, func, select

from admin_views.base import (
    ConsoleHomeView,
    EnterpriseNameSearchMixin,
    PersonListView,
    bounded_ids,
    bounded_int,
    int_arg,
    query_args,
)
from admin_views.labels import STATUS_LABELS, TRANSITION_LABELS, figure_labels
from extensions import db
from models.audit import AuditEvent, PersonEvent, record_event
from models.org import Enterprise, ReviewDepartment, department_ids_under
from models.person import Person
from models.status import DEPT_APPROVED, REGISTERED, SUBMITTED, reached
from models.user import REVIEW
from models.workflow import enterprise_scope, person_scope

RETURN_REASON_MAX = 200

# The figures a department follows per enterprise, as conditions on Person.
RETURNED = and_(Person.status == REGISTERED, Person.return_reason.is_not(None))
FIGURE_CONDITIONS = {
    "submitted": Person.status.in_(reached(SUBMITTED)),
    "pending": Person.status == SUBMITTED,
    "approved": Person.status.in_(reached(DEPT_APPROVED)),
    "returned": RETURNED,
}
FIGURE_LABELS = figure_labels(("declared", *FIGURE_CONDITIONS))


def enterprise_counts(user, enterprise_id=None):
    """Return one row per enterprise in the user's scope with its figures, by one grouped query."""
    figures = [func.count(case((condition, 1))).label(key) for key, condition in FIGURE_CONDITIONS.items()]
    statement = (
        select(Enterprise.id, Enterprise.name, Enterprise.parent_id, Enterprise.department_id,
               func.count(Person.id).label("declared"), *figures)
        .outerjoin(Person, Person.enterprise_id == Enterprise.id)
        .where(enterprise_scope(user))
        .group_by(Enterprise.id, Enterprise.name, Enterprise.parent_id, Enterprise.department_id)
        .order_by(Enterprise.name, Enterprise.id)
    )
    if enterprise_id is not None:
        statement = statement.where(Enterprise.id == enterprise_id)
    return db.session.execute(statement).mappings().all()


def totals_of(rows):
    """Sum the figures of the per-enterprise rows."""
    return {key: sum(row[key] for row in rows) for key, _ in FIGURE_LABELS}


def grouped_by_department(user, rows):
    """Arrange enterprise rows under the departments in the user's scope, subsidiaries after parents."""
    # The user's own department first, then its units in the order they were created.
    department_ids = sorted(department_ids_under(user.department_id), key=lambda d: (d != user.department_id, d))
    names = dict(db.session.execute(
        select(ReviewDepartment.id, ReviewDepartment.name).where(ReviewDepartment.id.in_(department_ids))
    ).all())
    by_department = {}
    for row in rows:
        by_department.setdefault(row["department_id"], []).append(row)
    groups = []
    for department_id in department_ids:
        members = by_department.get(department_id, [])
        if members or department_id == user.department_id:
            groups.append((names.get(department_id, ""), _nested(members)))
    return groups


def _nested(rows):
    """Return (depth, row) pairs with each subsidiary right after its parent enterprise."""
    present = {row["id"] for row in rows}
    children = {}
    for row in rows:
        parent = row["parent_id"] if row["parent_id"] in present else None
        children.setdefault(parent, []).append(row)
    ordered, stack = [], [(0, row) for row in reversed(children.get(None, []))]
    while stack:
        depth, row = stack.pop()
        ordered.append((depth, row))
        stack.extend((depth + 1, child) for child in reversed(children.get(row["id"], [])))
    return ordered


def clean_ids(values):
    """Keep the posted row ids that are whole numbers."""
    return bounded_ids(values)


class ReviewHomeView(ConsoleHomeView):
    """审核看板: the department's totals and per enterprise declared / submitted / approved / returned."""

    @expose("/")
    def index(self):
        rows = enterprise_counts(current_user)
        return self.render("review/home.html", rows=rows, totals=totals_of(rows), figures=FIGURE_LABELS,
                           user=current_user)


class ReviewPersonView(EnterpriseNameSearchMixin, PersonListView):
    role = REVIEW
    tabs = {
        "pending": ("待初审", (SUBMITTED,)),
        "approved": ("已初审", reached(DEPT_APPROVED)),
        "returned": ("退回", (REGISTERED,)),
    }
    tab_figures = {"pending": "pending", "approved": "approved", "returned": "returned"}
    default_tab = "pending"
    list_template = "review/person_list.html"
    can_view_details = True
    column_list = ("enterprise.name", "name", "gender", "id_number", "age", "phone", "category", "status",
                   "return_reason", "submitted_at")
    column_searchable_list = ("name", "id_number")
    column_filters = ("category",)
    bulk_buttons = (("dept_approve", "全部审核", "是否确认全部审核？"),)

    def current_enterprise_id(self):
        """?enterprise=: None when absent; 0 (no such enterprise: 404) when it is not a valid id."""
        if not request.args.get("enterprise"):
            return None
        return int_arg("enterprise") or 0

    def extra_conditions(self):
        conditions = list(super().extra_conditions())
        if self.current_tab() == "returned":
            conditions.append(Person.return_reason.is_not(None))
        enterprise_id = self.current_enterprise_id()
        if enterprise_id is not None:
            conditions.append(Person.enterprise_id == enterprise_id)
        return tuple(conditions)

    def render(self, template, **kwargs):
        if template == self.list_template:
            kwargs.update(self._enterprise_panel())
        return super().render(template, **kwargs)

    def _enterprise_panel(self):
        """The enterprise list beside the persons: counts per enterprise and for the chosen scope."""
        rows = enterprise_counts(current_user)
        enterprise_id = self.current_enterprise_id()
        chosen = next((row for row in rows if row["id"] == enterprise_id), None)
        if enterprise_id is not None and chosen is None:
            abort(404)  # another department's enterprise: as if it did not exist
        return {
            "enterprise_groups": grouped_by_department(current_user, rows),
            "chosen_enterprise": chosen,
            "tab_counts": totals_of([chosen] if chosen else rows),
            "tab_figures": self.tab_figures,
            "return_reason_max": RETURN_REASON_MAX,
        }

    @expose("/all/<action>", methods=("POST",))
    def act_on_all(self, action):
        """全部审核 on the current list; an enterprise outside the scope is not found."""
        enterprise_id = self.current_enterprise_id()
        if enterprise_id is not None and not db.session.execute(
            select(Enterprise.id).where(Enterprise.id == enterprise_id, enterprise_scope(current_user))
        ).first():
            abort(404)
        return super().act_on_all(action)

    @action("dept_approve", "批量审核", "确认审核通过选中的人员？")
    def action_approve(self, ids):
        self.run_transition("dept_approve", ids=clean_ids(ids))

    @expose("/return/", methods=("POST",))
    def return_view(self):
        """退回: send the ticked persons back to their enterprise with a reason."""
        ids = clean_ids(request.form.getlist("rowid"))
        reason = (request.form.get("reason") or "").strip()
        if not ids:
            flash("请先勾选要退回的人员", "error")
        elif not reason:
            flash("请填写退回原因", "error")
        elif len(reason) > RETURN_REASON_MAX:
            flash(f"退回原因最多{RETURN_REASON_MAX}字", "error")
        else:
            self.run_transition("dept_return", ids=ids, reason=reason)
        return redirect(self._return_target())

    def _return_target(self):
        return self.local_url(request.form.get("url")) or self.get_url(".index_view", **query_args())

    def local_url(self, target):
        """Return `target` when it is a page of this view (no open redirects), else None."""
        parts = urlsplit(target or "")
        if not parts.scheme and not parts.netloc and parts.path.startswith(self.url + "/"):
            return target
        return None

    def get_one(self, id):
        """A person in the user's scope whatever the tab or enterprise of the list."""
        key = bounded_int(id)
        if key is None:
            return None
        return db.session.execute(
            select(Person).where(person_scope(current_user), Person.id == key)
        ).scalar_one_or_none()

    @expose("/details/")
    def details_view(self):
        """The full record of one person, for checking; the viewing is audited."""
        person = self.get_one(request.args.get("id"))
        if person is None:
            abort(404)
        record_event(current_user, "view_person", target_type="person", target_id=person.id)
        db.session.commit()
        history = db.session.execute(
            select(AuditEvent.at, AuditEvent.action, AuditEvent.username, AuditEvent.reason,
                   PersonEvent.from_status, PersonEvent.to_status)
            .join(AuditEvent, AuditEvent.id == PersonEvent.event_id)
            .where(PersonEvent.person_id == person.id)
            .order_by(PersonEvent.id)
        ).all()
        response = self.render(
            "review/person_detail.html", person=person, history=history, status_labels=STATUS_LABELS,
            action_labels=TRANSITION_LABELS,
            return_url=self.local_url(request.args.get("url")) or self.get_url(".index_view"),
            return_reason_max=RETURN_REASON_MAX,
        )
        return response, 200, {"Cache-Control": "no-store"}


def build_console(admin):
    admin.add_view(ReviewPersonView(name="人员审核", endpoint="review_persons"))


def home_view():
    return ReviewHomeView(REVIEW, name="审核看板")
