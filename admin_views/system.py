"""系统管理: accounts, units, stations, option lists and the audit log."""

from flask_admin.contrib.sqla import ModelView
from flask_login import current_user

from admin_views.base import ConsoleHomeView, RoleAccessMixin
from admin_views.reader_tokens import ReaderTokenView
from extensions import db
from models import (
    AuditEvent,
    OptionItem,
    ReviewDepartment,
    SmsMessage,
    Station,
    Territory,
    User,
)
from models.user import ADMIN


class AdminModelView(RoleAccessMixin, ModelView):
    role = ADMIN
    page_size = 50
    column_default_sort = ("id", False)


class UserView(AdminModelView):
    column_list = ("username", "display_name", "role", "phone", "active", "locked_until", "last_login_at")
    column_searchable_list = ("username", "display_name")
    column_filters = ("role", "active")
    column_labels = {"username": "账号", "display_name": "名称", "role": "角色", "phone": "手机号",
                     "active": "启用", "locked_until": "锁定至", "last_login_at": "最近登录"}
    form_excluded_columns = ("password_hash", "failed_logins", "created_at", "last_login_at")
    can_create = False


class AuditEventView(AdminModelView):
    can_create = can_edit = can_delete = False
    column_default_sort = ("id", True)
    column_list = ("at", "username", "role", "action", "from_status", "to_status", "requested",
                   "changed", "reason", "detail")
    column_filters = ("username", "action", "at")
    column_labels = {"at": "时间", "username": "账号", "role": "角色", "action": "操作",
                     "from_status": "原状态", "to_status": "新状态", "requested": "请求人数",
                     "changed": "处理人数", "reason": "原因", "detail": "详情"}


class SmsMessageView(AdminModelView):
    can_create = can_edit = can_delete = False
    column_default_sort = ("id", True)
    column_labels = {"phone": "手机号", "body": "内容", "kind": "类型", "status": "状态",
                     "created_at": "时间", "sent_at": "发送时间", "error": "错误"}


def build_console(admin):
    admin.add_view(UserView(User, db, name="账号管理", endpoint="admin_users"))
    admin.add_view(AdminModelView(Territory, db, name="辖区", endpoint="admin_territories"))
    admin.add_view(AdminModelView(ReviewDepartment, db, name="审核部门", endpoint="admin_departments"))
    admin.add_view(AdminModelView(Station, db, name="接种站", endpoint="admin_stations"))
    admin.add_view(AdminModelView(OptionItem, db, name="选项列表", endpoint="admin_options"))
    admin.add_view(AuditEventView(AuditEvent, db, name="审计日志", endpoint="admin_audit"))
    admin.add_view(SmsMessageView(SmsMessage, db, name="短信记录", endpoint="admin_sms"))
    admin.add_view(ReaderTokenView(name="读卡器令牌", endpoint="admin_reader_tokens"))


def home_view():
    return ConsoleHomeView(ADMIN, name="系统管理")


__all__ = ["build_console", "home_view", "current_user"]
