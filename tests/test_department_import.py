"""Importing review departments from a sheet: fresh, re-run, bad rows, console upload, credentials read back."""

import base64
import io
import re
import time

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from models import AuditEvent, ReviewDepartment, User
from models.org import INDUSTRY, TERRITORY

HEADER = ("名称", "维度", "上级部门", "联系电话", "账号")


def sixty_departments():
    """20 industry authorities, 20 units below them, 20 territorial units: 60 rows."""
    rows = []
    for i in range(20):
        rows.append((f"行业主管部门{i:02d}", "行业", "", f"022-6530{i:04d}", f"hy{i:02d}"))
    for i in range(20):
        rows.append((f"行业下属单位{i:02d}", "行业", f"行业主管部门{i % 5:02d}", f"1380000{i:04d}", f"hyxs{i:02d}"))
    for i in range(20):
        rows.append((f"街镇{i:02d}", "属地", "", "", f"jz{i:02d}"))
    return rows


def write_sheet(path, rows, header=HEADER):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def read_credentials(source):
    workbook = load_workbook(source, read_only=True)
    try:
        rows = [tuple(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()
    assert rows[0] == ("部门", "账号", "初始密码")
    return rows[1:]


@pytest.fixture
def run_import(app, db):
    def run(path, *extra):
        result = app.test_cli_runner().invoke(args=["import-departments", str(path), *extra])
        db.session.expire_all()
        return result
    return run


def count(db, column, *conditions):
    return db.session.execute(select(func.count(column)).where(*conditions)).scalar_one()


def test_fresh_import_creates_sixty_departments_and_accounts_to_hand_out(tmp_path, run_import, db, app):
    sheet = write_sheet(tmp_path / "部门.xlsx", sixty_departments())
    started = time.perf_counter()
    result = run_import(sheet, "--output", str(tmp_path / "out.xlsx"))
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "新增部门 60 个" in result.output and "新建账号 60 个" in result.output
    assert elapsed < 30

    credentials = read_credentials(tmp_path / "out.xlsx")
    assert len(credentials) == 60 and len({password for _, _, password in credentials}) == 60
    assert count(db, ReviewDepartment.id) == 60
    assert count(db, User.id, User.role == "review", User.must_change_password.is_(True)) == 60
    child = db.session.execute(select(ReviewDepartment).where(ReviewDepartment.name == "行业下属单位07")).scalar_one()
    assert child.parent.name == "行业主管部门02" and child.dimension == INDUSTRY
    street = db.session.execute(select(ReviewDepartment).where(ReviewDepartment.name == "街镇03")).scalar_one()
    assert street.dimension == TERRITORY and street.parent is None
    account = db.session.execute(select(User).where(User.username == "hyxs07")).scalar_one()
    assert account.department_id == child.id and account.phone == "13800000007"
    assert db.session.execute(select(User.phone).where(User.username == "hy01")).scalar_one() is None  # landline

    # The issued passwords log in, and the first thing asked is a new password.
    for department, username, password in (credentials[0], credentials[25], credentials[59]):
        client = app.test_client()
        response = client.post("/login/review", data={"username": username, "password": password})
        assert response.headers["Location"] == "/change-password", department
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "import_departments")).scalar_one()
    assert "新增部门 60 个" in event.detail


def test_credentials_default_next_to_the_sheet(tmp_path, run_import):
    sheet = write_sheet(tmp_path / "depts.xlsx", sixty_departments()[:2])
    result = run_import(sheet)
    assert result.exit_code == 0, result.output
    written = list(tmp_path.glob("depts-账号密码-*.xlsx"))
    assert len(written) == 1 and len(read_credentials(written[0])) == 2
    assert written[0].stat().st_mode & 0o077 == 0


def test_rerun_updates_without_duplicates_or_new_passwords(tmp_path, run_import, db):
    rows = sixty_departments()
    run_import(write_sheet(tmp_path / "a.xlsx", rows), "--output", str(tmp_path / "first.xlsx"))
    first = {username: password for _, username, password in read_credentials(tmp_path / "first.xlsx")}

    changed = list(rows)
    changed[25] = ("行业下属单位05", "行业", "行业主管部门09", "13911112222", "hyxs05")   # new parent, new phone
    changed[45] = ("街镇05", "属地", "", "022-25321234", "jz05")
    changed.append(("新设街镇", "属地", "街镇05", "", "xinjz"))
    result = run_import(write_sheet(tmp_path / "b.xlsx", changed), "--output", str(tmp_path / "second.xlsx"))
    assert result.exit_code == 0, result.output
    assert "新增部门 1 个，更新部门 60 个" in result.output and "新建账号 1 个" in result.output

    assert count(db, ReviewDepartment.id) == 61 and count(db, User.id) == 61
    moved = db.session.execute(select(ReviewDepartment).where(ReviewDepartment.name == "行业下属单位05")).scalar_one()
    assert moved.parent.name == "行业主管部门09" and moved.contact_phone == "13911112222"
    assert db.session.execute(select(User.phone).where(User.username == "hyxs05")).scalar_one() == "13911112222"
    assert [(department, username) for department, username, _ in read_credentials(tmp_path / "second.xlsx")] \
        == [("新设街镇", "xinjz")]
    unchanged = db.session.execute(select(User).where(User.username == "hyxs05")).scalar_one()
    assert unchanged.check_password(first["hyxs05"])


def test_bad_rows_are_all_reported_and_nothing_is_imported(tmp_path, run_import, db, make_department, make_user):
    make_user("review", make_department("已有部门"), username="taken")
    db.session.commit()
    before = count(db, ReviewDepartment.id)
    rows = [
        ("好部门", "行业", "", "13800000001", "good"),          # line 2: fine
        ("", "行业", "", "", "noname"),                          # line 3
        ("维度错", "工业", "", "", "dim"),                       # line 4
        ("孤儿", "行业", "不存在的上级", "", "orphan"),          # line 5
        ("好部门", "行业", "", "", "good2"),                     # line 6: duplicate name
        ("电话错", "属地", "", "12345", "phone"),                # line 7
        ("账号重复", "行业", "", "", "good"),                    # line 8
        ("抢账号", "行业", "", "", "taken"),                     # line 9
        ("维度不符", "属地", "好部门", "", "mismatch"),          # line 10
        ("没账号", "行业", "", "", ""),                          # line 11
    ]
    result = run_import(write_sheet(tmp_path / "bad.xlsx", rows), "--output", str(tmp_path / "out.xlsx"))
    assert result.exit_code != 0
    expected = [
        "第3行：缺少名称", "第4行：维度“工业”应为 行业 或 属地", "第5行：上级部门“不存在的上级”不存在",
        "第6行：名称“好部门”与第2行重复", "第7行：联系电话“12345”格式不正确", "第8行：账号“good”与第2行重复",
        "第9行：账号“taken”已被其他单位使用", "第10行：维度与上级部门“好部门”（行业）不一致", "第11行：缺少账号",
        "发现 9 处问题，未导入任何数据",
    ]
    for message in expected:
        assert message in result.output, message
    assert count(db, ReviewDepartment.id) == before
    assert count(db, User.id) == 1
    assert not (tmp_path / "out.xlsx").exists()


def test_parent_cycle_is_refused(tmp_path, run_import, db):
    rows = [("甲", "行业", "乙", "", "jia01"), ("乙", "行业", "甲", "", "yi01")]
    result = run_import(write_sheet(tmp_path / "cycle.xlsx", rows))
    assert result.exit_code != 0 and "上级部门形成循环" in result.output
    assert count(db, ReviewDepartment.id) == 0


def test_parent_may_come_after_the_child_or_exist_already(tmp_path, run_import, db, make_department):
    make_department("系统中已有的局")
    db.session.commit()
    rows = [("子单位", "行业", "后面的局", "", "zidw"), ("后面的局", "行业", "系统中已有的局", "", "houju")]
    assert run_import(write_sheet(tmp_path / "order.xlsx", rows)).exit_code == 0
    child = db.session.execute(select(ReviewDepartment).where(ReviewDepartment.name == "子单位")).scalar_one()
    assert child.parent.name == "后面的局" and child.parent.parent.name == "系统中已有的局"


def test_not_a_spreadsheet_or_missing_columns_is_a_clear_error(tmp_path, run_import):
    text_file = tmp_path / "depts.xlsx"
    text_file.write_text("名称,维度\n")
    assert "请上传 .xlsx 格式的表格" in run_import(text_file).output
    sheet = write_sheet(tmp_path / "cols.xlsx", [("甲", "行业")], header=("名称", "维度"))
    assert "表格缺少列：账号" in run_import(sheet).output


# ---------------------------------------------------------------- the console upload

@pytest.fixture
def admin_client(app, make_user, login):
    client = app.test_client()
    login(make_user("admin", username="root"), test_client=client)
    return client


def upload(client, rows, name="部门.xlsx"):
    buffer = io.BytesIO()
    write_sheet(buffer, rows)
    buffer.seek(0)
    return client.post("/admin/admin_departments/import/", data={"file": (buffer, name)},
                       content_type="multipart/form-data")


def test_console_upload_offers_the_credentials_sheet_once(admin_client, db, app):
    response = upload(admin_client, sixty_departments()[:3])
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "导入完成" in page and "新建账号 3 个" in page
    link = re.search(r'href="data:application/vnd\.openxmlformats-officedocument\.spreadsheetml\.sheet;base64,'
                     r'([A-Za-z0-9+/=]+)" download="([^"]+)"', page)
    credentials = read_credentials(io.BytesIO(base64.b64decode(link.group(1))))
    assert [username for _, username, _ in credentials] == ["hy00", "hy01", "hy02"]
    assert link.group(2).endswith(".xlsx")
    client = app.test_client()
    assert client.post("/login/review", data={"username": "hy01", "password": credentials[1][2]}).status_code == 302
    # The same upload again creates nothing and offers no passwords.
    again = upload(admin_client, sixty_departments()[:3]).get_data(as_text=True)
    assert "新建账号 0 个" in again and "data:application" not in again
    assert count(db, ReviewDepartment.id) == 3


def test_console_upload_lists_problems_and_imports_nothing(admin_client, db):
    rows = [("甲", "行业", "", "", "jia01"), ("乙", "工业", "", "", "yi01")]
    page = upload(admin_client, rows).get_data(as_text=True)
    assert "表格有 1 处问题，未导入任何数据" in page and "第3行：维度“工业”应为 行业 或 属地" in page
    assert count(db, ReviewDepartment.id) == 0


def test_console_upload_without_a_file(admin_client):
    page = admin_client.post("/admin/admin_departments/import/", data={}).get_data(as_text=True)
    assert "请选择要上传的 .xlsx 文件" in page


def test_template_download_reads_back_as_an_import_sheet(admin_client, tmp_path, run_import):
    response = admin_client.get("/admin/admin_departments/import/template.xlsx")
    assert response.status_code == 200
    path = tmp_path / "template.xlsx"
    path.write_bytes(response.data)
    assert run_import(path).exit_code == 0
