"""企业端: the enterprise's own staff list (人员清单) and dashboard (企业看板)."""

from flask_admin.actions import action

from admin_views.base import PersonListView
from admin_views.home import FunnelHomeView
from models.status import (
    ALLOCATED,
    APPOINTED,
    CENTER_APPROVED,
    CHECKED_IN,
    DEPT_APPROVED,
    NOT_VACCINATED,
    REGISTERED,
    SUBMITTED,
    VACCINATED,
)
from models.user import ENTERPRISE


class EnterpriseHomeView(FunnelHomeView):
    figures = (
        ("declared", "申报总人数"),
        ("submitted", "已提交审核人数"),
        ("allocated", "已分配人数"),
        ("vaccinated", "已完成接种人数"),
    )


class EnterprisePersonView(PersonListView):
    role = ENTERPRISE
    tabs = {
        "unsubmitted": ("未提交", (REGISTERED,)),
        "submitted": ("已提交", (SUBMITTED, DEPT_APPROVED, CENTER_APPROVED)),
        "allocated": ("已分配", (ALLOCATED, APPOINTED, CHECKED_IN, NOT_VACCINATED)),
        "vaccinated": ("已接种", (VACCINATED,)),
    }
    default_tab = "unsubmitted"
    column_list = ("name", "gender", "id_number", "age", "phone", "category", "community", "status",
                   "return_reason", "created_at")
    column_searchable_list = ("name", "id_number")
    column_filters = ("category",)
    bulk_buttons = (("submit", "全部提交", "是否确认全部提交？"),)

    @action("submit", "提交接种人员", "确认提交选中的人员？")
    def action_submit(self, ids):
        self.run_transition("submit", ids=ids)


def build_console(admin):
    admin.add_view(EnterprisePersonView(name="人员清单", endpoint="enterprise_persons"))


def home_view():
    return EnterpriseHomeView(ENTERPRISE, name="企业看板")
