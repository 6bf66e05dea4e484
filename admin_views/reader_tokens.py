"""读卡器令牌 in the admin console: issue a station desk's reader token (shown once) and revoke it."""

from flask import flash
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.fields import QuerySelectField
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select, update
from wtforms.fields.choices import Choice
from wtforms.validators import DataRequired, Length

from admin_views.base import RoleAccessMixin
from extensions import db
from models.audit import record_event
from models.base import now
from models.org import Station
from models.reader import ReaderToken
from models.user import ADMIN


def state_formatter(view, context, model, name):
    if model.revoked_at is None:
        return Markup('<span class="badge badge-success">有效</span>')
    return Markup('<span class="badge badge-secondary">已吊销 {0:%Y-%m-%d %H:%M}</span>').format(model.revoked_at)


class StationSelectField(QuerySelectField):
    """Flask-Admin's relation select, yielding the Choice objects WTForms 3.3 wants (raw tuples are deprecated)."""

    def iter_choices(self):
        for value, label, selected, render_kw in super().iter_choices():
            yield Choice(value=value, label=label, selected=selected, render_kw=render_kw)


def active_stations():
    return db.session.execute(select(Station).where(Station.active.is_(True)).order_by(Station.name)).scalars().all()


class ReaderTokenView(RoleAccessMixin, ModelView):
    """One row per desk token; only the hash is stored, so a lost token is revoked and a new one issued."""

    role = ADMIN
    can_create = True
    can_edit = False
    can_delete = False
    page_size = 50
    column_default_sort = ("id", True)
    column_list = ("station", "name", "created_at", "last_used_at", "revoked_at")
    column_filters = ("station.name", "revoked_at")
    column_labels = {"station": "接种站", "station.name": "接种站", "name": "读卡台", "created_at": "发放时间",
                     "last_used_at": "最近使用", "revoked_at": "状态"}
    column_formatters = {"revoked_at": state_formatter}
    form_columns = ("station", "name")
    form_overrides = {"station": StationSelectField}
    form_args = {
        "station": {"label": "接种站", "validators": [DataRequired("请选择接种站")], "query_factory": active_stations},
        "name": {"label": "读卡台名称",
                 "validators": [DataRequired("请填写读卡台名称，如：入口1号台"), Length(max=64)]},
    }

    def __init__(self, name="读卡器令牌", endpoint="admin_reader_tokens", **kwargs):
        super().__init__(ReaderToken, db, name=name, endpoint=endpoint, **kwargs)

    def create_model(self, form):
        """Issue a token; the plain value is shown in this answer only."""
        row, plain = ReaderToken.issue(form.station.data, form.name.data.strip())
        db.session.flush()
        record_event(current_user, "reader_token_issued", target_type="reader_token", target_id=row.id,
                     detail=f"station={row.station_id} name={row.name}")
        db.session.commit()
        flash(Markup("读卡器令牌已生成，仅显示这一次，请立即复制到读卡代理的配置（READER_TOKEN）中："
                     "<code class=\"issued-token\">{0}</code>").format(plain), "success")
        return row

    @action("revoke", "吊销", "确认吊销选中的读卡器令牌？吊销后这些读卡器将无法上传读卡记录。")
    def action_revoke(self, ids):
        chosen = [int(i) for i in ids]
        result = db.session.execute(
            update(ReaderToken).where(ReaderToken.id.in_(chosen), ReaderToken.revoked_at.is_(None))
            .values(revoked_at=now()).execution_options(synchronize_session=False)
        )
        record_event(current_user, "reader_token_revoked", target_type="reader_token",
                     detail="ids=" + ",".join(map(str, chosen)), requested=len(chosen), changed=result.rowcount)
        db.session.commit()
        flash(f"已吊销 {result.rowcount} 个读卡器令牌", "success")
