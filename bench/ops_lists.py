"""A console's status tab, first and deep page, beside the same list as plain Flask-Admin runs it."""

import math
import re

from flask import url_for
from flask_admin import Admin, AdminIndexView
from flask_admin.contrib.sqla import ModelView
from sqlalchemy import func, select

from bench.harness import Row, interleaved, median
from bench.web import logged_in_client
from extensions import db
from models.person import Person
from models.status import DEPT_APPROVED

CONSOLE_ENDPOINT = "center_persons.index_view"  # the center's 人员审核 list
PLAIN_URL = "/bench-plain/bench_plain_persons/"
TARGET_MS = 0.030
TARGET_SPEEDUP = 5.0
JUDGED_FROM = 1_000_000
DEEP_PAGE = 20_000  # as users count pages: ?page=19999
ROW_ID = re.compile(r'name="rowid"[^>]*value="(\d+)"')


class PlainPersonView(ModelView):
    """The list as Flask-Admin runs it out of the box: string "equals" filter, count(*), OFFSET."""

    column_list = ("enterprise.name", "name", "gender", "id_number", "age", "phone", "category", "status")
    column_filters = ("status",)
    column_default_sort = ("id", False)
    page_size = 50


def mount_plain_view(app):
    """Add the plain Flask-Admin list to the benchmark app (before its first request)."""
    admin = Admin(app, name="plain", url="/bench-plain",
                  index_view=AdminIndexView(url="/bench-plain", endpoint="bench_plain"))
    view = PlainPersonView(Person, db, endpoint="bench_plain_persons")
    admin.add_view(view)
    return view


def equals_filter_arg(view):
    """The URL argument of the plain view's "equals" filter on status (flt0_<index>)."""
    index = next(i for i, f in enumerate(view._filters) if type(f).__name__ == "FilterEqual")
    return f"flt0_{index}"


def measure(ctx, plain_view):
    app = ctx.app
    with app.app_context():
        in_tab = db.session.execute(
            select(func.count()).select_from(Person).where(Person.status == DEPT_APPROVED)
        ).scalar_one()
        with app.test_request_context():
            console_base = url_for(CONSOLE_ENDPOINT, tab="reviewing")
    last_page = max(math.ceil(in_tab / 50) - 1, 0)
    deep = min(DEEP_PAGE - 1, last_page)
    console = logged_in_client(app, "center")
    plain = app.test_client()
    flt = equals_filter_arg(plain_view)
    rows = []
    for page, label in ((0, "first page"), (deep, f"page {deep + 1:,} (OFFSET {deep * 50:,})")):
        console_url = console_base + (f"&page={page}" if page else "")
        plain_url = f"{PLAIN_URL}?{flt}={DEPT_APPROVED}" + (f"&page={page}" if page else "")
        same = _same_rows(console, console_url, plain, plain_url)

        def get_console(url=console_url):
            assert console.get(url).status_code == 200

        def get_plain(url=plain_url):
            assert plain.get(url).status_code == 200

        times_c, times_p = interleaved(ctx.repeat, get_console, get_plain, warmup=2)
        row = Row(f"center 审核中 tab ({in_tab:,} people), {label}", ctx.engine, ctx.persons,
                  measured=median(times_c), baseline=median(times_p), unit="ms",
                  target=f"≤ {TARGET_MS * 1000:.0f} ms (PostgreSQL) and ≤ {1 / TARGET_SPEEDUP:.1f}× baseline",
                  note="" if same else "rows differ from the plain list")
        fast_enough = row.measured <= TARGET_MS or not ctx.is_postgres
        row.passed = bool(same and fast_enough and row.baseline / row.measured >= TARGET_SPEEDUP)
        if same and ctx.persons < JUDGED_FROM:
            # The speed-up is what a district-sized table costs the plain list: a small table has none.
            row.passed, row.note = None, f"judged at {JUDGED_FROM:,} persons"
        ctx.log(f"list {label}: console {row.measured * 1000:.1f} ms, plain {row.baseline * 1000:.1f} ms")
        rows.append(row)
    return rows


def _same_rows(console, console_url, plain, plain_url):
    """Both lists show the same people on the page, in the same order."""
    ours = ROW_ID.findall(console.get(console_url).get_data(as_text=True))
    theirs = ROW_ID.findall(plain.get(plain_url).get_data(as_text=True))
    return bool(ours) and ours == theirs
