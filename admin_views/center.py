"""防控中心端: second approval (复审), allocation, appointments, the district dashboard."""

from flask_admin.actions import action
from sqlalchemy import func, select

from admin_views.base import PersonListView
from admin_views.home import FunnelHomeView
from extensions import db
from models.org import Enterprise
from models.status import ALLOCATED, CENTER_APPROVED, DEPT_APPROVED
from models.user import CENTER


class CenterHomeView(FunnelHomeView):
    figures = (("enterprises", "企业数"),) + FunnelHomeView.figures

    def extra_counts(self):
        return {"enterprises": db.session.execute(select(func.count(Enterprise.id))).scalar_one()}


class CenterReviewView(PersonListView):
    role = CENTER
    tabs = {
        "reviewing": ("审核中", (DEPT_APPROVED,)),
        "approved": ("已审批", (CENTER_APPROVED,)),
        "allocated": ("已分配", (ALLOCATED,)),
    }
    default_tab = "reviewing"
    column_list = ("enterprise.name", "name", "gender", "id_number", "age", "phone", "category", "status")
    column_searchable_list = ("name", "id_number")
    bulk_buttons = (("center_approve", "全部审核", "是否确认全部提交审核"),)

    @action("center_approve", "批量审核", "确认审核通过选中的人员？")
    def action_approve(self, ids):
        self.run_transition("center_approve", ids=ids)


def build_console(admin):
    admin.add_view(CenterReviewView(name="人员审核", endpoint="center_persons"))


def home_view():
    return CenterHomeView(CENTER, name="申报管理")
