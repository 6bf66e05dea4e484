"""人员分配管理: allocate approved people to stations from the 单位清单 tree, or take it back.

全部分配 / 批量分配 open 请选择接种站: every active station with its capacity of the
coming week, the people already waiting there and its saturation, with the best station
pre-selected (same territory as most of the chosen people's enterprises, then most free
places). 确认 allocates with one set-based transition.
"""

from flask import flash, redirect, request
from flask_admin import expose
from flask_admin.actions import action
from sqlalchemy import and_, func, select

from admin_views.base import int_arg, query_args
from admin_views.center_tree import ToolButton, TreePersonListView
from extensions import db
from models import stats
from models.org import Enterprise, Station, Territory
from models.person import Person
from models.status import ALLOCATED, CENTER_APPROVED

# Query arguments that choose people, not the list they come from.
CHOICE_ARGS = ("scope", "rowid", "station_id")


def suggestion_reason(station, territory):
    """Say why a station is suggested, in the operator's words."""
    if station is None:
        return None
    if territory is not None and station.territory_id == territory.id:
        return f"与多数人员的企业同属{territory.name}，且该辖区内剩余名额最多"
    if territory is not None:
        return f"{territory.name}没有接种站，建议全区剩余名额最多的接种站"
    return "剩余名额最多"


SHOWN_ENTERPRISES = 8


def chosen_enterprises(condition):
    """Who is being allocated: the enterprises with the most of the chosen people, and how many there are."""
    per_company = (select(Enterprise.name, func.count(Person.id).label("n"))
                   .join(Enterprise, Enterprise.id == Person.enterprise_id).where(condition)
                   .group_by(Enterprise.id, Enterprise.name))
    counted = per_company.subquery()
    total = db.session.execute(select(func.count()).select_from(counted)).scalar_one()
    shown = db.session.execute(select(counted.c.name, counted.c.n)
                               .order_by(counted.c.n.desc(), counted.c.name).limit(SHOWN_ENTERPRISES)).all()
    return shown, total


class CenterAllocationView(TreePersonListView):
    tree_statuses = (CENTER_APPROVED,)
    tree_title = "单位清单"
    tree_count_label = "待分配人数"
    tabs = {
        "pending": ("待分配", (CENTER_APPROVED,)),
        "allocated": ("已分配", (ALLOCATED,)),
    }
    default_tab = "pending"
    column_list = ("enterprise.name", "name", "gender", "id_number", "age", "phone", "category", "station", "status")
    tool_buttons = {
        "pending": (
            ToolButton("choose_all", "allocate", "全部分配", endpoint=".choose_station"),
            ToolButton("choose_ticked", "allocate", "批量分配", endpoint=".choose_station"),
        ),
        "allocated": (
            ToolButton("all", "cancel_allocation", "全部取消", confirm="确认取消全部已分配人员的分配？",
                       style="outline-danger"),
            ToolButton("ticked", "cancel_allocation", "批量取消", confirm="确认取消选中的 {n} 人的分配？",
                       style="outline-danger"),
        ),
    }

    @action("cancel_allocation", "批量取消")
    def action_cancel(self, ids):
        self.run_transition("cancel_allocation", ids=ids)

    def list_args(self):
        """The arguments of the list the operator came from (tab, node, search…)."""
        return {k: v for k, v in query_args().items() if k not in CHOICE_ARGS}

    @expose("/choose-station")
    def choose_station(self):
        """请选择接种站: the stations with their load, the suggested one pre-selected."""
        waiting = and_(self.chosen_condition(), Person.status == CENTER_APPROVED)
        count = db.session.execute(select(func.count()).select_from(Person).where(waiting)).scalar_one()
        if count == 0:
            flash("没有可分配的人员：请勾选待分配的人员。", "warning")
            return redirect(self.get_url(".index_view", **self.list_args()))
        rows = stats.station_load(days=7)
        companies, company_count = chosen_enterprises(waiting)
        territory_id = stats.majority_territory(waiting)
        suggested = stats.suggest_station(rows, territory_id)
        territory = db.session.get(Territory, territory_id) if territory_id else None
        return self.render(
            "center/choose_station.html", rows=rows, suggested=suggested, chosen_count=count, territory=territory,
            companies=companies, company_count=company_count,
            reason=suggestion_reason(suggested, territory),
            scope=request.args.get("scope"), rowids=self.ticked_ids(), list_args=self.list_args(),
        )

    @expose("/allocate", methods=("POST",))
    def allocate(self):
        """确认: allocate the chosen people to the station picked on 请选择接种站."""
        station_id = int_arg("station_id", request.form)
        station = db.session.get(Station, station_id) if station_id else None
        if station is None:
            flash("请选择接种站", "error")
            return redirect(self.get_url(".index_view", **self.list_args()))
        result = self.run_transition("allocate", where=self.chosen_condition(), station=station)
        if result is not None and result.changed:
            flash(f"已分配到{station.name}", "success")
        return redirect(self.get_url(".index_view", **self.list_args()))
