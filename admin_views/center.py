"""防控中心端: the district dashboard (实时监测) and second approval (人员审核) by department tree.

Allocation to stations lives in center_allocation.py, appointments and time windows in
center_appointments.py; build_console() mounts them all under /center/.
"""

from flask import jsonify, request
from flask_admin import expose
from flask_admin.actions import action

from admin_views import (
    center_aefi,
    center_allocation,
    center_appointments,
    center_lots,
    center_reports,
    self_cancellations,
)
from admin_views.center_tree import ToolButton, TreePersonListView
from admin_views.home import FunnelHomeView
from admin_views.labels import DIMENSION_LABELS, DOSE_KIND_LABELS, FUNNEL, figure_labels
from admin_views.vaccines import CenterVaccineView
from models import dose_counts, stats
from models.aefi import open_alerts
from models.base import now, today
from models.status import CENTER_APPROVED, DEPT_APPROVED
from models.user import CENTER

FIGURES = figure_labels(("enterprises", *FUNNEL))

STATION_COLUMNS = (
    "appointed_today", "capacity_today", "checked_in_today", "vaccinated_today",
    "appointed_total", "checked_in_total", "vaccinated_total", "waiting",
)


class CenterHomeView(FunnelHomeView):
    """实时监测: the seven figures, refreshed every few seconds, and the district's breakdowns."""

    figures = FIGURES

    @expose("/")
    def index(self):
        figures = stats.district_figures()
        trend = dose_counts.daily_doses(14, today())
        departments, territories = stats.organisation_breakdown()
        return self.render(
            "center/home.html", counts=figures, figures=self.figures,
            departments=departments, dimensions=DIMENSION_LABELS,
            territories=territories, stations=stats.station_breakdown(),
            trend=trend, trend_chart=trend_chart(trend), updated_at=now(), aefi_alerts=open_alerts(),
            doses=dose_counts.district_doses(today()), station_doses=dose_counts.station_doses(today()),
            department_doses=stats.department_dose_breakdown(),
            dose_kinds=DOSE_KINDS, dose_labels=DOSE_KIND_LABELS,
        )

    @expose("/live")
    def live(self):
        """The dashboard's live figures as JSON: polled by static/js/center-dashboard.js."""
        values = {f"figure:{key}": value for key, value in stats.district_figures().items()}
        for row in stats.station_breakdown():
            station_id = row["station"].id
            for column in STATION_COLUMNS:
                values[f"station:{station_id}:{column}"] = row[column]
            values[f"station:{station_id}:saturation_today"] = percent(row["saturation_today"])
        values.update(dose_values())
        return jsonify(values=values, updated_at=now().strftime("%H:%M:%S"))


# The per-dose columns of the dashboard (a third dose only in the three-dose course: shown in the total).
DOSE_KINDS = ("dose1", "dose2", "complete", "booster")


def dose_values():
    """The per-dose figures for the live JSON: district, per station and per top-level department (counters only)."""
    day = today()
    values = {}
    district = dose_counts.district_doses(day)
    for when in ("today", "total"):
        for kind in DOSE_KINDS:
            values[f"dose:{kind}:{when}"] = district[when].get(kind, 0)
    for station_id, figures in dose_counts.station_doses(day).items():
        for when in ("today", "total"):
            for kind in DOSE_KINDS:
                values[f"station:{station_id}:{kind}_{when}"] = figures[when].get(kind, 0)
    for rows in stats.department_dose_breakdown(day).values():
        for department, figures in rows:
            for when in ("today", "total"):
                for kind in DOSE_KINDS:
                    values[f"dept:{department.id}:{kind}_{when}"] = figures[when].get(kind, 0)
    return values


def percent(share):
    return "—" if share is None else f"{share * 100:.0f}%"


def trend_chart(points, width=640, height=200, pad_left=36, pad_bottom=28, pad_top=16):
    """Lay out the daily dose chart for an inline SVG (no JS, no CDN): one bar a day, stacked by dose number.

    `points` are [(day, {kind: doses})]; the legend names the kinds of the fortnight (第1剂 and
    第2剂 always), bottom to top in the order of dose_counts.DOSE_KINDS.
    """
    present = {kind for _, doses in points for kind, n in doses.items() if n}
    kinds = [kind for kind in dose_counts.DOSE_KINDS if kind in present or kind in ("dose1", "dose2")]
    totals = [sum(doses.get(kind, 0) for kind in kinds) for _, doses in points]
    scale_max = max(max(totals, default=0), 1)
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    step = plot_w / max(len(points), 1)
    base_y = pad_top + plot_h
    bars = []
    for index, ((day, doses), count) in enumerate(zip(points, totals)):
        x, y, segments = round(pad_left + index * step + step * 0.15, 1), base_y, []
        for kind in kinds:
            h = plot_h * doses.get(kind, 0) / scale_max
            if h:
                y -= h
                segments.append({"kind": kind, "y": round(y, 1), "h": round(h, 1)})
        parts = "，".join(f"{DOSE_KIND_LABELS[k]} {doses[k]}" for k in kinds if doses.get(k))
        bars.append({
            "x": x, "w": round(step * 0.7, 1), "y": round(y, 1), "h": round(base_y - y, 1), "count": count,
            "segments": segments, "label": f"{day.month}/{day.day}",
            "cx": round(pad_left + index * step + step / 2, 1),
            "title": f"{day:%Y-%m-%d}：接种 {count} 剂次" + (f"（{parts}）" if parts else ""),
        })
    # Gridlines at 0, the middle and the top, each drawn where its (whole) number lies: no "0" twice
    # when the top is 1, no "2" halfway up a scale of 3.
    values = sorted({0, round(scale_max / 2), scale_max})
    ticks = [{"value": v, "y": round(base_y - plot_h * v / scale_max, 1)} for v in values]
    legend = [{"kind": kind, "label": DOSE_KIND_LABELS[kind]} for kind in kinds]
    return {"width": width, "height": height, "bars": bars, "ticks": ticks, "base_y": base_y, "legend": legend,
            "left": pad_left, "right": width - 8, "total": sum(totals)}


class CenterReviewView(TreePersonListView):
    """人员审核: second approval of the people the review departments approved, node by node."""

    tree_statuses = (DEPT_APPROVED,)
    tree_title = "审核部门"
    tree_count_label = "审核中人数"
    tabs = {
        "reviewing": ("审核中", (DEPT_APPROVED,)),
        "approved": ("已审批", (CENTER_APPROVED,)),
    }
    default_tab = "reviewing"
    tool_buttons = {
        "reviewing": (
            ToolButton("all", "center_approve", "全部审核", confirm="是否确认全部提交审核"),
            ToolButton("ticked", "center_approve", "批量审核", confirm="确认审核通过选中的 {n} 人？"),
            ToolButton("ticked", "center_return", "批量退回", confirm="确认将选中的 {n} 人退回审核部门？",
                       reason="退回原因", style="outline-danger"),
        ),
        "approved": (
            ToolButton("ticked", "center_return", "取消", confirm="确认取消选中的 {n} 人的审批，退回审核部门？",
                       reason="取消原因", style="outline-danger"),
        ),
    }

    @action("center_approve", "批量审核")
    def action_approve(self, ids):
        self.run_transition("center_approve", ids=ids)

    @action("center_return", "批量退回")
    def action_return(self, ids):
        self.run_transition("center_return", ids=ids, reason=request.form.get("reason"))


def build_console(admin):
    admin.add_view(CenterReviewView(name="人员审核", endpoint="center_persons", url="review"))
    admin.add_view(center_allocation.CenterAllocationView(name="人员分配管理", endpoint="center_allocation",
                                                          url="allocation"))
    admin.add_view(center_appointments.CenterAppointmentView(name="预约管理", endpoint="center_appointments",
                                                             url="appointments"))
    admin.add_view(center_appointments.CenterSlotView(name="预约时段", endpoint="center_slots", url="slots"))
    admin.add_view(self_cancellations.center_view())
    admin.add_view(center_lots.CenterLotView(name="疫苗批号", endpoint="center_lots", url="lots"))
    admin.add_view(center_lots.CenterStockView(name="库存日结", endpoint="center_stock", url="stock"))
    admin.add_view(center_aefi.CenterAefiView(name="异常反应", endpoint="center_aefi", url="aefi"))
    admin.add_view(center_reports.CenterReportView(name="数据上报", endpoint="center_reports", url="reports"))
    admin.add_view(CenterVaccineView(name="疫苗品种", endpoint="center_vaccines", url="vaccines"))


def home_view():
    return CenterHomeView(CENTER, name="申报管理")
