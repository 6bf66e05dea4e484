"""审核部门端: first approval (初审) of the persons of the department's enterprises."""

from flask_admin.actions import action

from admin_views.base import PersonListView
from admin_views.home import FunnelHomeView
from models.status import DEPT_APPROVED, SUBMITTED
from models.user import REVIEW


class ReviewPersonView(PersonListView):
    role = REVIEW
    tabs = {
        "pending": ("待初审", (SUBMITTED,)),
        "approved": ("已初审", (DEPT_APPROVED,)),
    }
    default_tab = "pending"
    column_list = ("enterprise.name", "name", "gender", "id_number", "age", "phone", "category", "status")
    column_searchable_list = ("name", "id_number")
    bulk_buttons = (("dept_approve", "全部审核", "是否确认全部审核？"),)

    @action("dept_approve", "批量审核", "确认审核通过选中的人员？")
    def action_approve(self, ids):
        self.run_transition("dept_approve", ids=ids)


def build_console(admin):
    admin.add_view(ReviewPersonView(name="人员审核", endpoint="review_persons"))


def home_view():
    return FunnelHomeView(REVIEW, name="审核看板")
