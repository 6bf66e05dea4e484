"""系统管理 through HTTP: admins only, accounts (create, reset, unlock, disable), units, option lists, logs."""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, OptionItem, ReviewDepartment, SmsCode, SmsMessage, User, now
from models.options import PERSON_CATEGORY, option_labels
from tests.conftest import TEST_PASSWORD

PAGES = (
    "/admin/", "/admin/admin_users/", "/admin/admin_users/new-account/", "/admin/admin_territories/",
    "/admin/admin_departments/", "/admin/admin_departments/tree/", "/admin/admin_departments/import/",
    "/admin/admin_departments/import/template.xlsx", "/admin/admin_stations/", "/admin/admin_option_categories/",
    "/admin/admin_option_reasons/", "/admin/admin_audit/", "/admin/admin_sms/",
)


@pytest.fixture
def admin(make_user):
    return make_user("admin", username="root")


@pytest.fixture
def admin_client(app, admin, login):
    client = app.test_client()
    login(admin, test_client=client)
    return client


def issued_password(page):
    return re.search(r'<code class="issued-password">([^<]+)</code>', page).group(1)


def login_status(app, role, username, password):
    response = app.test_client().post(f"/login/{role}", data={"username": username, "password": password})
    return response.headers.get("Location") or response.get_data(as_text=True)


# ---------------------------------------------------------------- access

@pytest.mark.parametrize("role", ["review", "center", "station", "enterprise"])
def test_admin_console_refuses_other_roles(app, login, make_user, make_department, make_station, make_enterprise,
                                           role, db):
    unit = {"review": make_department, "station": make_station, "enterprise": make_enterprise}.get(role)
    victim = make_user("review", make_department(), username="victim")
    client = app.test_client()
    login(make_user(role, unit() if unit else None), test_client=client)
    for page in PAGES:
        assert client.get(page).status_code == 403, page
    manage = f"/admin/admin_users/manage/{victim.id}"
    for url in (f"{manage}/reset-password/", f"{manage}/unlock/", f"{manage}/active/",
                "/admin/admin_users/new-account/", "/admin/admin_departments/import/"):
        assert client.post(url, data={"username": "x1234", "role": "admin"}).status_code == 403, url
    db.session.expire_all()
    assert db.session.get(User, victim.id).check_password(TEST_PASSWORD)
    assert db.session.execute(select(User).where(User.username == "x1234")).first() is None


def test_anonymous_users_are_sent_to_the_admin_login(client):
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login/admin"), page


# ---------------------------------------------------------------- accounts

def test_new_account_shows_its_password_once_and_forces_a_change(admin_client, app, make_department, db):
    department = make_department("区商务局")
    db.session.commit()
    response = admin_client.post("/admin/admin_users/new-account/", data={
        "username": "shangwu", "role": "review", "department": department.id, "station": 0,
        "phone": "13800001234"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "账号已创建" in page and "只显示这一次" in page
    password = issued_password(page)
    account = db.session.execute(select(User).where(User.username == "shangwu")).scalar_one()
    assert account.must_change_password and account.department_id == department.id
    assert account.display_name == "区商务局" and account.phone == "13800001234"
    assert password not in admin_client.get(f"/admin/admin_users/manage/{account.id}/").get_data(as_text=True)
    assert login_status(app, "review", "shangwu", password) == "/change-password"
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "account_created")).scalar_one()


@pytest.mark.parametrize("data, message", [
    ({"username": "nodept", "role": "review", "department": 0, "station": 0}, "审核部门端账号须选择审核部门"),
    ({"username": "nostation", "role": "station", "department": 0, "station": 0}, "接种站端账号须选择接种站"),
    ({"username": "noent", "role": "enterprise", "department": 0, "station": 0, "credit_code": "X"},
     "找不到该统一社会信用代码的企业"),
    ({"username": "root", "role": "center", "department": 0, "station": 0}, "账号“root”已存在"),
    ({"username": "a b", "role": "center", "department": 0, "station": 0}, "账号只能由3-64位字母"),
    ({"username": "badphone", "role": "center", "department": 0, "station": 0, "phone": "123"},
     "请输入正确的11位手机号"),
])
def test_new_account_refuses_incomplete_forms(admin_client, db, data, message):
    page = admin_client.post("/admin/admin_users/new-account/", data=data).get_data(as_text=True)
    assert message in page
    assert db.session.execute(select(User).where(User.username == data["username"], User.role != "admin")).first() \
        is None


def test_reset_password_issues_a_new_one_and_unlocks(admin_client, app, make_user, make_department, db):
    user = make_user("review", make_department(), username="forgetful", locked_until=now().replace(year=2099))
    db.session.commit()
    page = admin_client.post(f"/admin/admin_users/manage/{user.id}/reset-password/").get_data(as_text=True)
    password = issued_password(page)
    assert "密码已重置" in page
    assert "账号或密码错误" in login_status(app, "review", "forgetful", TEST_PASSWORD)
    assert login_status(app, "review", "forgetful", password) == "/change-password"


def test_locked_account_is_unlocked_by_the_admin(admin_client, app, make_user, db):
    make_user("center", username="clumsy")
    db.session.commit()
    for _ in range(5):
        login_status(app, "center", "clumsy", "wrong-pass1")
    assert "账号已锁定" in login_status(app, "center", "clumsy", TEST_PASSWORD)
    user = db.session.execute(select(User).where(User.username == "clumsy")).scalar_one()
    locked_list = admin_client.get("/admin/admin_users/?flt0_2=1").get_data(as_text=True)
    assert "clumsy" in locked_list and "已锁定至" in locked_list and "root" not in locked_list.split("model-list")[1]
    manage = admin_client.get(f"/admin/admin_users/manage/{user.id}/").get_data(as_text=True)
    assert "解锁" in manage
    response = admin_client.post(f"/admin/admin_users/manage/{user.id}/unlock/", follow_redirects=True)
    assert "账号 clumsy 已解锁" in response.get_data(as_text=True)
    assert login_status(app, "center", "clumsy", TEST_PASSWORD) == "/center/"


def failures_shown(admin_client, user):
    page = admin_client.get(f"/admin/admin_users/manage/{user.id}/").get_data(as_text=True)
    return re.search(r'<td class="failures">(\d+) 次</td>', page).group(1), "解锁</button>" in page


def test_the_account_page_counts_only_the_failures_that_still_count(admin_client, app, make_user, db):
    user = make_user("center", username="forgetful")
    db.session.commit()
    for _ in range(2):
        login_status(app, "center", "forgetful", "wrong-pass1")
    assert failures_shown(admin_client, user) == ("2", True)
    # an hour later those two no longer count toward the lock (the login page's countdown starts afresh)
    user.failures_since = now() - timedelta(hours=1)
    db.session.commit()
    assert failures_shown(admin_client, user) == ("0", False)
    login_status(app, "center", "forgetful", "wrong-pass1")
    assert failures_shown(admin_client, user) == ("1", True)


def test_batch_unlock_and_disable(admin_client, app, admin, make_user, db):
    first = make_user("center", username="first", locked_until=now().replace(year=2099))
    second = make_user("center", username="second", locked_until=now().replace(year=2099))
    db.session.commit()
    admin_client.post("/admin/admin_users/action/", data={"action": "unlock", "rowid": [first.id, second.id]})
    assert login_status(app, "center", "second", TEST_PASSWORD) == "/center/"
    response = admin_client.post("/admin/admin_users/action/", data={"action": "disable",
                                                                      "rowid": [first.id, admin.id]},
                                 follow_redirects=True)
    assert "已停用 1 个账号" in response.get_data(as_text=True)
    assert "账号或密码错误" in login_status(app, "center", "first", TEST_PASSWORD)
    db.session.expire_all()
    assert db.session.get(User, admin.id).active


def test_disable_and_enable_one_account_but_never_oneself(admin_client, app, admin, make_user, db):
    user = make_user("center", username="leaver")
    db.session.commit()
    admin_client.post(f"/admin/admin_users/manage/{user.id}/active/", data={"active": "0"})
    assert "账号或密码错误" in login_status(app, "center", "leaver", TEST_PASSWORD)
    admin_client.post(f"/admin/admin_users/manage/{user.id}/active/", data={"active": "1"})
    assert login_status(app, "center", "leaver", TEST_PASSWORD) == "/center/"
    refused = admin_client.post(f"/admin/admin_users/manage/{admin.id}/active/", data={"active": "0"},
                                follow_redirects=True)
    assert "不能停用当前登录的账号" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, admin.id).active


def test_password_and_code_hashes_are_never_shown(admin_client, admin, make_user, db):
    user = make_user("center", username="someone", phone="13800001111")
    db.session.add(SmsCode(phone="13800001111", code_hash="c0dehash" * 8, created_at=now(), expires_at=now()))
    db.session.add(SmsMessage(phone="13800001111", body="您好", kind="notice", status="sent"))
    db.session.commit()
    pages = [admin_client.get(url).get_data(as_text=True) for url in (
        "/admin/admin_users/", f"/admin/admin_users/manage/{user.id}/", f"/admin/admin_users/edit/?id={user.id}",
        "/admin/admin_sms/", "/admin/admin_audit/", "/admin/")]
    for page in pages:
        assert "scrypt:" not in page and user.password_hash not in page and "c0dehash" not in page
    assert "13800001111" in pages[3] and "您好" in pages[3]


def test_account_list_is_in_chinese(admin_client, make_user, make_department):
    make_user("review", make_department("区应急管理局"), username="yingji")
    page = admin_client.get("/admin/admin_users/").get_data(as_text=True)
    for label in ("账号", "名称/单位", "角色", "手机号", "最近登录", "审核部门端", "区应急管理局", "新建账号"):
        assert label in page, label


# ---------------------------------------------------------------- units and options

def test_department_tree_shows_both_dimensions_nested(admin_client, make_department, make_user, make_enterprise):
    port = make_department("天津港集团公司")
    make_department("天津港轮驳", parent=port)
    make_department("新河街道", dimension="territory")
    make_user("review", port, username="port01")
    make_enterprise(department=port)
    page = admin_client.get("/admin/admin_departments/tree/").get_data(as_text=True)
    industry, territory = page.index("行业（"), page.index("属地（")
    assert industry < page.index("天津港集团公司") < page.index("天津港轮驳") < territory < page.index("新河街道")
    assert "账号 port01" in page and "企业 1 家" in page


def test_department_form_refuses_cycles_mismatches_and_duplicates(admin_client, make_department, db):
    parent = make_department("上级局")
    child = make_department("下级所", parent=parent)
    make_department("街道甲", dimension="territory")
    db.session.commit()

    def edit(department, **changes):
        data = {"name": department.name, "dimension": department.dimension,
                "parent_id": department.parent_id or "", "contact_phone": "", "sort_order": 0, **changes}
        return admin_client.post(f"/admin/admin_departments/edit/?id={department.id}", data=data,
                                 follow_redirects=True).get_data(as_text=True)

    assert "上级部门不能是本部门或其下级部门" in edit(parent, parent_id=child.id)
    assert "维度须与上级部门“上级局”一致" in edit(child, dimension="territory")
    assert "已经存在" in edit(child, name="街道甲")  # Flask-Admin's own check of the unique name
    assert "联系电话格式不正确" in edit(child, contact_phone="12")
    edit(child, contact_phone="022-65301234")
    db.session.expire_all()
    refreshed = db.session.get(ReviewDepartment, child.id)
    assert (refreshed.name, refreshed.parent_id, refreshed.contact_phone) == ("下级所", parent.id, "022-65301234")
    assert db.session.get(ReviewDepartment, parent.id).parent_id is None


def test_option_lists_are_edited_per_kind(admin_client, db):
    admin_client.post("/admin/admin_option_categories/new/", data={"label": "港口装卸人员", "sort_order": 99,
                                                                   "active": "y"})
    assert "港口装卸人员" in option_labels(PERSON_CATEGORY)
    assert "港口装卸人员" not in admin_client.get("/admin/admin_option_reasons/").get_data(as_text=True)
    duplicate = admin_client.post("/admin/admin_option_categories/new/", data={"label": "港口装卸人员",
                                                                               "sort_order": 1, "active": "y"},
                                  follow_redirects=True)
    assert "选项“港口装卸人员”已存在" in duplicate.get_data(as_text=True)
    item = db.session.execute(select(OptionItem).where(OptionItem.label == "港口装卸人员")).scalar_one()
    admin_client.post(f"/admin/admin_option_categories/edit/?id={item.id}",
                      data={"label": "港口装卸人员", "sort_order": 99})  # unticked: switched off
    assert "港口装卸人员" not in option_labels(PERSON_CATEGORY)


def test_audit_log_filters_by_user_and_action_and_is_read_only(admin_client, make_user, db):
    someone = make_user("center", username="auditee")
    db.session.add_all([
        AuditEvent(user_id=someone.id, username="auditee", role="center", action="login", target_type="user"),
        AuditEvent(user_id=someone.id, username="auditee", role="center", action="center_approve", requested=5,
                   changed=4),
        AuditEvent(username="other", role="center", action="center_approve", requested=1, changed=1),
    ])
    db.session.commit()
    def column(url, name):
        page = admin_client.get(url).get_data(as_text=True)
        cells = re.findall(rf'<td class="col-{name}">(.*?)</td>', page, re.S)
        return [re.sub(r"\s+", " ", cell).strip() for cell in cells]

    assert column("/admin/admin_audit/?flt0_0=auditee", "username") == ["auditee", "auditee"]
    assert column("/admin/admin_audit/?flt0_1=center_approve", "username") == ["other", "auditee"]
    assert column("/admin/admin_audit/?flt0_1=center_approve", "action") == ["复审通过", "复审通过"]
    assert admin_client.get("/admin/admin_audit/new/").status_code == 302
    assert admin_client.post("/admin/admin_audit/delete/", data={"id": 1}).status_code == 302
    assert db.session.execute(select(AuditEvent).where(AuditEvent.username == "other")).first() is not None


def test_audit_detail_reads_in_words(admin_client, make_station, make_slot, db):
    station = make_station("大港医院接种点")
    slot = make_slot(station, starts_at=datetime(2026, 5, 1, 8, 0), minutes=60)
    db.session.flush()
    db.session.add_all([
        AuditEvent(username="center", role="center", action="appoint", detail=f"station={station.id} slot={slot.id}"),
        AuditEvent(username="ent", role="enterprise", action="person_edit", detail="fields=name,phone"),
        AuditEvent(username="ent", role="enterprise", action="import", detail="rows=3 inserted=2 rejected=1"),
        AuditEvent(username="station01", role="station", action="vaccine_change", detail="A / 1 -> B / 2"),
    ])
    for other in range(5):  # more stations and windows on the page: still one look-up of each kind
        slot_n = make_slot(make_station(f"接种点{other}"), starts_at=datetime(2026, 5, 2, 8 + other, 0))
        db.session.flush()
        db.session.add(AuditEvent(username="center", role="center", action="appoint",
                                  detail=f"station={slot_n.station_id} slot={slot_n.id}"))
    db.session.commit()
    from sqlalchemy import event as sa_event
    lookups = []

    def remember(conn, cursor, statement, *rest):
        if re.search(r"FROM (station|appointment_slot)\b", statement):
            lookups.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", remember)
    try:
        page = admin_client.get("/admin/admin_audit/").get_data(as_text=True)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", remember)
    assert len(lookups) == 2, lookups
    cells = [re.sub(r"\s+", " ", cell).strip()
             for cell in re.findall(r'<td class="col-detail">(.*?)</td>', page, re.S)]
    assert "接种站 大港医院接种点，时段 2026-05-01 08:00-09:00" in cells
    assert "修改项 姓名、手机号" in cells
    assert "行数 3，导入 2，未导入 1" in cells
    assert "A / 1 -&gt; B / 2" in cells  # free text stays as written
