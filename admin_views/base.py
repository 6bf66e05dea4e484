"""The shared base of every console: role access, scoped queries, masking, batch plumbing.

Everything that leans on Flask-Admin beyond its public API sits in `FlaskAdminInternals`
below (Flask-Admin is pinned in requirements.txt; tests/test_flask_admin_pin.py checks each
assumption that class makes, so an upgrade that breaks one fails loudly there).
"""

import functools
import re
from datetime import datetime
from types import SimpleNamespace

from flask import abort, flash, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_admin.babel import gettext as admin_gettext
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.typefmt import DEFAULT_FORMATTERS
from flask_admin.tools import rec_getattr
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import joinedload
from werkzeug.routing import IntegerConverter

from admin_views.labels import GENDER_LABELS, STATUS_LABELS, error_text, result_text
from extensions import db
from models.counters import count_persons
from models.identity import normalise_id_number, normalise_phone
from models.org import Enterprise
from models.person import Person
from models.workflow import WorkflowError, apply_transition, person_scope
from public_forms.expired_session import login_again

# The largest value of an integer column (PostgreSQL's integer; SQLite's is larger). An id or a
# number read from a request outside 1..MAX_ID would make the database refuse the statement
# (NumericValueOutOfRange / OverflowError, a 500): it is treated as an id that does not exist.
MAX_ID = 2**31 - 1


def bounded_int(value, low=1, high=MAX_ID):
    """`value` as an int when it is a whole number within low..high, else None."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def int_arg(name, source=None, low=1, high=MAX_ID):
    """An int query argument (or a field of `source`, e.g. request.form) within low..high, else None."""
    return bounded_int((request.args if source is None else source).get(name), low, high)


def bounded_ids(values):
    """The posted row ids that are ids an integer column can hold."""
    return [number for number in map(bounded_int, values or ()) if number is not None]


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in URLs: a number over MAX_ID does not match (404), like an id that does not exist."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def page_ids(ids_query, id_column, page, page_size, count, descending=False):
    """Return the ids of one page of `ids_query` (a query of ids), ordered by `id_column`.

    A page past the middle is read backwards from the end (OFFSET count - offset - size),
    so the deepest pages cost as little as the first ones.
    """
    offset = page * page_size
    if offset >= count:
        return []
    take = min(page_size, count - offset)
    if offset > count - offset - take:
        order = id_column.asc() if descending else id_column.desc()
        ids = [i for (i,) in ids_query.order_by(order).offset(count - offset - take).limit(take)]
        return ids[::-1]
    order = id_column.desc() if descending else id_column.asc()
    return [i for (i,) in ids_query.order_by(order).offset(offset).limit(take)]


def query_args(**fixed):
    """The current query arguments to carry into a URL, with `fixed` set.

    Names that url_for/get_url take themselves (endpoint, _external, _scheme…) are dropped:
    `?endpoint=x` or `?slot_id=1` on a page would otherwise clash with them and answer 500.
    """
    args = {k: v for k, v in request.args.to_dict().items() if k != "endpoint" and not k.startswith("_")}
    args.update(fixed)
    return args


# ---------------------------------------------------------------- Flask-Admin internals: the one place

FLASK_ADMIN_VERSION = "2.2.1"


class FlaskAdminInternals:
    """The non-public parts of Flask-Admin 2.2.1's ModelView that the consoles rely on.

    ModelView has no public way to read the request's parsed search and filters, to
    sort and page a query of our own, or to refresh filter choices per request. These
    methods do it through its internals; no other module touches a `_`-name of
    Flask-Admin. tests/test_flask_admin_pin.py pins each name and signature used here.
    """

    # Rebuild the filters' choices on every page (choices that are admin-editable data).
    refresh_filter_choices = False
    # Compute the list columns per request (a list whose columns follow its tab): ModelView
    # caches them once in `_list_columns` and reads that for the header and sort-by-index.
    list_columns_per_request = False

    @property
    def _list_columns(self):
        if self.list_columns_per_request:
            return self.get_list_columns()
        return self.__dict__.get("_cached_list_columns")

    @_list_columns.setter
    def _list_columns(self, value):
        self.__dict__["_cached_list_columns"] = value

    def list_arguments(self):
        """(search, filters) of the request's list, as Flask-Admin parsed and validated them."""
        view_args = self._get_list_extra_args()
        return view_args.search, view_args.filters

    def active_filters(self, filters):
        """(filter object, cleaned value) of each active filter (index, name, value) of a list."""
        active = []
        for index, _, value in filters or ():
            flt = self._filters[index]
            active.append((flt, flt.clean(value)))
        return active

    def sorted_page(self, query, sort_column, sort_desc, page, page_size):
        """`query` sorted by a list column (with the joins it needs) and cut to one page."""
        query, _ = self._apply_sorting(query, {}, sort_column, sort_desc)
        return self._apply_pagination(query, page, page_size)

    def _get_filter_groups(self):
        if self.refresh_filter_choices:
            self._refresh_filters_cache()
        return super()._get_filter_groups()


# ---------------------------------------------------------------- masking

def mask_id_number(value):
    """120107********123X: region and the last four stay readable."""
    if not value:
        return ""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_phone(value):
    """138****5678."""
    if not value:
        return ""
    return value[:3] + "****" + value[-4:] if len(value) >= 7 else "*" * len(value)


def masked_id_formatter(view, context, model, name):
    return mask_id_number(getattr(model, name))


def masked_phone_formatter(view, context, model, name):
    return mask_phone(getattr(model, name))


def status_formatter(view, context, model, name):
    status = getattr(model, name)
    return Markup(f'<span class="badge status-{escape(status)}">{escape(STATUS_LABELS.get(status, status))}</span>')


def gender_formatter(view, context, model, name):
    return GENDER_LABELS.get(model.gender, "")


def person_search_condition(term, enterprise_names=False):
    """Search by name (contains), ID number (exact, or prefix from 6 characters) or phone (exact);
    with `enterprise_names`, a word also finds the staff of enterprises whose name contains it
    (the review and center clerks take calls from companies).

    ID numbers and phones are never matched with a LIKE over the whole column: a
    prefix match keeps the index usable and does not turn up people by digits in the middle.
    """
    term = (term or "").strip()
    if not term:
        return None
    number = normalise_id_number(term)
    if re.fullmatch(r"[1-9]\d{16}[\dX]", number):
        return Person.id_number == number
    if re.fullmatch(r"1[3-9]\d{9}", normalise_phone(term)):
        return (Person.phone == normalise_phone(term)) | Person.id_number.startswith(number, autoescape=True)
    if re.fullmatch(r"\d{6,17}X?", number):
        return Person.id_number.startswith(number, autoescape=True)
    by_name = Person.name.contains(term, autoescape=True)
    if not enterprise_names:
        return by_name
    companies = select(Enterprise.id).where(Enterprise.name.contains(term, autoescape=True))
    return by_name | Person.enterprise_id.in_(companies)


class EnterpriseNameSearchMixin:
    """The person list's search also finds people by their enterprise's name."""

    def search_condition(self, term):
        return person_search_condition(term, enterprise_names=True)

    def search_placeholder(self):
        return "姓名 / 企业名称 / 身份证号 / 手机号"


# ---------------------------------------------------------------- access

def user_has_role(role):
    user = current_user._get_current_object()  # once: every menu item of every page asks
    return user.is_authenticated and user.active and user.role == role and not user.must_change_password


def minute_time(view, value, name=None):
    """Times in every console list to the minute, as the hand-written lists show them."""
    return f"{value:%Y-%m-%d %H:%M}"


CONSOLE_FORMATTERS = {**DEFAULT_FORMATTERS, datetime: minute_time}


class RoleAccessMixin:
    """Only users of `role` reach the view; others get the login page or 403."""

    role = None
    column_type_formatters = CONSOLE_FORMATTERS

    def is_accessible(self):
        return user_has_role(self.role)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            if request.method == "POST":  # a form left open after the session ended: back to its page
                return login_again(self.role)
            return redirect(url_for("auth.login", role=self.role, next=request.full_path))
        if current_user.must_change_password:
            return redirect(url_for("auth.change_password"))
        abort(403)


class ConsoleHomeView(RoleAccessMixin, AdminIndexView):
    """The home page of a console; role modules subclass it with their dashboard."""

    def __init__(self, role, name="首页", template="admin/console_home.html", **kwargs):
        self.role = role
        self.home_template = template
        super().__init__(name=name, endpoint=role, url=f"/{role}", template=template, **kwargs)


# ---------------------------------------------------------------- scoped lists

class ScopedModelView(RoleAccessMixin, FlaskAdminInternals, ModelView):
    """A list whose every query, count, detail, export and action is scoped to the user."""

    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = False
    page_size = 50
    can_set_page_size = True

    def __init__(self, model, name=None, endpoint=None, **kwargs):
        super().__init__(model, db, name=name, endpoint=endpoint, **kwargs)

    def scope_condition(self):
        """The condition rows must meet to be visible to the current user."""
        raise NotImplementedError

    def extra_conditions(self):
        """Further conditions of the current list (a tab, a tree node)."""
        return ()

    def get_query(self):
        return super().get_query().filter(self.scope_condition(), *self.extra_conditions())

    def get_count_query(self):
        return super().get_count_query().filter(self.scope_condition(), *self.extra_conditions())

    def get_one(self, id):
        key = bounded_int(id)
        if key is None:
            return None
        return self.get_query().filter(self.model.id == key).one_or_none()


# Cell values no column type formatter of Flask-Admin's changes (bool, None, dates and lists have one).
PLAIN_CELL_TYPES = (str, int, Markup)


@functools.cache
def _cell_opening(column):
    """A column's <td> (the same on every row of every page)."""
    return f'<td class="col-{escape(column)}">'


def _select_record_title():
    """The row checkbox's title in the request's language, looked up once per request."""
    memo = request.environ
    if "binhai.select_record" not in memo:
        memo["binhai.select_record"] = escape(admin_gettext("Select record"))
    return memo["binhai.select_record"]


# The formatters of PersonListView: each reads only the column it formats.
COLUMN_FORMATTERS = frozenset({masked_id_formatter, masked_phone_formatter, status_formatter, gender_formatter})


class ListedEnterprise(SimpleNamespace):
    """The enterprise of a list row: its name."""


class PersonRow(SimpleNamespace):
    """A person as a list page shows them: the id and the list's columns as attributes (`enterprise.name` too)."""


PERSON_COLUMN_KEYS = frozenset(attr.key for attr in Person.__mapper__.column_attrs)


@functools.cache
def _person_rows_statement(names):
    """A Core SELECT of the id and these list columns of the persons of `ids` (built once per column set)."""
    columns = [Person.id] + [getattr(Person, name) for name in names if name in PERSON_COLUMN_KEYS and name != "id"]
    statement = select(*columns)
    if "enterprise.name" in names:
        statement = statement.add_columns(Enterprise.name.label("enterprise__name")).join(
            Enterprise, Enterprise.id == Person.enterprise_id)
    return statement.where(Person.id.in_(bindparam("ids", expanding=True)))


def _person_rows(ids, names):
    """The rows of a page's ids in their order, read by Core (a page of ORM objects costs several times as much)."""
    by_id = {}
    for values in db.session.connection().execute(_person_rows_statement(names), {"ids": list(ids)}).mappings():
        row = dict(values)
        if "enterprise__name" in row:
            row["enterprise"] = ListedEnterprise(name=row.pop("enterprise__name"))
        by_id[row["id"]] = PersonRow(**row)
    return [by_id[i] for i in ids if i in by_id]


class PersonListView(ScopedModelView):
    """A list of persons with status tabs, 全部… buttons and batch transitions.

    `tabs` maps a tab key to (label, statuses). The tab is a query argument, so
    paging, filters and the 全部… buttons all keep it.
    """

    tabs = {}
    default_tab = None
    list_template = "admin/person_list.html"
    column_default_sort = ("id", False)
    column_formatters = {
        "id_number": masked_id_formatter,
        "phone": masked_phone_formatter,
        "status": status_formatter,
        "gender": gender_formatter,
    }
    column_labels = {
        "name": "姓名", "gender": "性别", "id_number": "身份证号", "age": "年龄", "phone": "手机号",
        "category": "人员类别", "lives_in_binhai": "住在滨海新区", "community": "现居住小区",
        "remarks": "备注", "status": "状态", "return_reason": "退回原因", "enterprise": "企业",
        "enterprise.name": "企业", "station": "接种站", "slot": "预约时间", "created_at": "填报时间",
        "submitted_at": "提交时间", "not_vaccinated_reason": "未接种原因",
    }
    # Bulk buttons shown above the list: (action, button label, confirmation text).
    bulk_buttons = ()

    def __init__(self, name=None, endpoint=None, **kwargs):
        super().__init__(Person, name=name, endpoint=endpoint, **kwargs)

    def scope_condition(self):
        return person_scope(current_user)

    def current_tab(self):
        tab = request.args.get("tab")
        return tab if tab in self.tabs else self.default_tab

    def extra_conditions(self):
        tab = self.current_tab()
        if tab is None:
            return ()
        return (Person.status.in_(self.tabs[tab][1]),)

    def count_condition(self):
        """The condition of the current list before search and filters (what the counters can answer)."""
        return and_(self.scope_condition(), *self.extra_conditions())

    def unfiltered_count(self):
        """The number of rows of the current list before search and filters (from the counters)."""
        return count_persons(self.count_condition())

    def search_condition(self, term):
        """The condition a search term adds to the list (None: no search)."""
        return person_search_condition(term)

    def filter_conditions(self, filters):
        """The conditions of the list's active column filters, each a condition on Person alone."""
        conditions = []
        for flt, value in self.active_filters(filters):
            narrowed = flt.apply(select(Person.id), value)
            if narrowed.get_final_froms() != [Person.__table__]:
                # A filter over another table would turn the 全部… UPDATE into a cross join.
                raise TypeError(f"{type(self).__name__}: a person list filter must read person alone: {flt!r}")
            conditions.append(narrowed.whereclause)
        return conditions

    def list_condition(self, search=None, filters=None):
        """The condition on Person of every row of a list: scope, tab, node, search and filters.

        The list shows exactly these rows and the 全部… buttons act on exactly these rows
        (apply_transition makes it the UPDATE's own WHERE).
        """
        conditions = [self.scope_condition(), *self.extra_conditions(), *self.filter_conditions(filters)]
        searched = self.search_condition(search) if search else None
        if searched is not None:
            conditions.append(searched)
        return and_(*conditions)

    def current_list_condition(self):
        """list_condition() of the list the request shows (its tab, node, search and filters)."""
        search, filters = self.list_arguments()
        return self.list_condition(search, filters)

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """Count from the maintained counters and fetch a page by its ids (a deferred join).

        Flask-Admin's own list counts with count(*) and pages with OFFSET over whole rows on
        every request: at 1,000,000 persons that is slow on every page and worse deep down.
        Here the count comes from models.counters when no search or filter narrows the
        list, the page's ids come from an index-only scan (from the nearer end of the
        list), and only those rows are loaded. Page numbers work as before.
        """
        condition = self.list_condition(search, filters)
        if search or filters:
            count = db.session.execute(select(func.count()).select_from(Person).where(condition)).scalar_one()
        else:
            count = self.unfiltered_count()
        query = db.session.query(self.model).filter(condition)
        if not execute:
            return count, query
        page_size = self.page_size if page_size is None else page_size
        descending = self._id_sort(sort_column, sort_desc)
        if descending is None or not page_size:
            query = self.sorted_page(query, sort_column, sort_desc, page, page_size)
            for join in self._list_relationships():
                query = query.options(joinedload(join))
            return count, query.all()
        ids_query = db.session.query(Person.id).filter(condition)
        return count, self._rows_by_id(page_ids(ids_query, Person.id, page or 0, page_size, count, descending))

    def _id_sort(self, sort_column, sort_desc):
        """True/False when the list is sorted by id (descending or not), None for any other order."""
        if sort_column is not None:
            return bool(sort_desc) if sort_column == "id" else None
        default = self.column_default_sort
        if default in ("id", ("id", False), ("id", True)):
            return default[1] if isinstance(default, tuple) else False
        return None

    def _rows_by_id(self, ids):
        if not ids:
            return []
        if self._rows_are_columns():
            return _person_rows(ids, tuple(name for name, _ in self.get_list_columns()))
        query = db.session.query(self.model).filter(self.model.id.in_(ids))
        for join in self._list_relationships():
            query = query.options(joinedload(join))
        by_id = {row.id: row for row in query}
        return [by_id[i] for i in ids if i in by_id]

    def _rows_are_columns(self):
        """Whether every column shown is a person column or the enterprise's name, with a formatter of
        this class's own that reads nothing else: then the page's rows need no ORM objects."""
        for name, _ in self.get_list_columns():
            if name not in PERSON_COLUMN_KEYS and name != "enterprise.name":
                return False
            if self.column_formatters.get(name, masked_id_formatter) not in COLUMN_FORMATTERS:
                return False
        return True

    def _list_relationships(self):
        """The relationships the list's columns read (enterprise.name, slot…): loaded with the rows, not per row."""
        relationships = self.model.__mapper__.relationships
        names = {column.split(".")[0] for column, _ in self.get_list_columns()}
        return [getattr(self.model, name) for name in sorted(names) if name in relationships]

    @pass_context
    def list_row_cells(self, context, row, list_columns, with_checkbox):
        """One row's cells as Flask-Admin's list.html draws them (the ticking checkbox, then each column).

        Built here in one go: the template's blocks and calls per cell cost more than the list's
        queries on a page of 50. Values are Flask-Admin's own (get_list_value) unless a column is a
        plain attribute or formatter giving text or a number, which no type formatter changes.
        """
        cells = []
        if with_checkbox:
            cells.append(f'<td><input type="checkbox" name="rowid" class="action-checkbox" '
                         f'value="{escape(self.get_pk_value(row))}" title="{_select_record_title()}" /></td>')
        for name, _ in list_columns:
            cells.append(f'{_cell_opening(name)}{self._list_cell_value(context, row, name)}</td>')
        return Markup("".join(cells))

    def _list_cell_value(self, context, row, name):
        if not self.column_choices or name not in self.column_choices:
            formatter = self.column_formatters.get(name)
            value = rec_getattr(row, name) if formatter is None else formatter(self, context, row, name)
            if type(value) in PLAIN_CELL_TYPES:
                return escape(value)
        return escape(self.get_list_value(context, row, name))

    def run_transition(self, action, *, ids=None, where=None, **kwargs):
        """Apply a workflow action, commit, and tell the user what happened."""
        if ids is not None:
            ids = bounded_ids(ids)
        try:
            result = apply_transition(action, current_user, ids=ids, where=where, **kwargs)
        except WorkflowError as error:
            db.session.rollback()
            flash(error_text(error), "error")
            return None
        db.session.commit()
        flash(result_text(result), "success" if result.changed else "warning")
        return result

    def bulk_kwargs(self, action):
        """Extra arguments of a bulk action taken from the posted form (reason, station…)."""
        reason = request.form.get("reason")
        return {"reason": reason} if reason is not None else {}

    @expose("/all/<action>", methods=("POST",))
    def act_on_all(self, action):
        """全部…: apply `action` to every row matching the current list, not only the page."""
        if action not in {button[0] for button in self.bulk_buttons}:
            abort(404)
        self.run_transition(action, where=self.current_list_condition(), **self.bulk_kwargs(action))
        return redirect(self.get_url(".index_view", **query_args()))

    def render(self, template, **kwargs):
        kwargs.setdefault("tabs", self.tabs)
        kwargs.setdefault("current_tab", self.current_tab())
        kwargs.setdefault("bulk_buttons", self.bulk_buttons)
        return super().render(template, **kwargs)
