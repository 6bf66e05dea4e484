"""审核部门 sheets: read the department import sheet, import it all-or-nothing, write the credentials sheet.

The sheet has the columns 名称, 维度 (行业/属地), 上级部门, 联系电话, 账号. Every row is
checked before anything is written; with a single problem nothing is imported. A
re-run updates existing departments (dimension, parent, phone), never duplicates
them, and leaves the passwords of existing accounts alone (a blank 联系电话 keeps the
phone on file). New accounts get a random
initial password that must be changed at first login; the credentials sheet is the
only place it appears.
"""

import io
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import select

from extensions import db
from models.audit import record_event
from models.identity import normalise_phone, phone_error
from models.org import INDUSTRY, TERRITORY, ReviewDepartment
from models.passwords import hash_password, random_password
from models.user import REVIEW, User
from services.spreadsheets import neutralise

COLUMNS = {"名称": "name", "维度": "dimension", "上级部门": "parent", "联系电话": "phone", "账号": "username"}
REQUIRED_COLUMNS = ("名称", "维度", "账号")
DIMENSIONS = {"行业": INDUSTRY, "属地": TERRITORY, INDUSTRY: INDUSTRY, TERRITORY: TERRITORY}
SHEET_DIMENSION = {INDUSTRY: "行业", TERRITORY: "属地"}  # how the sheet writes a dimension
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{3,64}")
LANDLINE_PATTERN = re.compile(r"0\d{2,3}-?\d{7,8}(-\d{1,6})?")
CREDENTIAL_HEADERS = ("部门", "账号", "初始密码")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class DepartmentSheetError(Exception):
    """The file cannot be read as a department sheet at all; the message is for the user."""


@dataclass
class DepartmentRow:
    line: int
    name: str = ""
    dimension: str = ""
    parent: str = ""
    phone: str = ""
    username: str = ""


@dataclass
class ImportResult:
    created_departments: int = 0
    updated_departments: int = 0
    existing_accounts: int = 0
    credentials: list = field(default_factory=list)  # (department, username, password) of new accounts

    def summary(self):
        return (f"新增部门 {self.created_departments} 个，更新部门 {self.updated_departments} 个；"
                f"新建账号 {len(self.credentials)} 个，已有账号 {self.existing_accounts} 个（密码未变）")


# ---------------------------------------------------------------- reading

def _text(value):
    """A cell as text: whole numbers (phones typed as numbers) without a trailing .0."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_department_sheet(source):
    """Return the rows of the first sheet of an .xlsx file (path or binary stream)."""
    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        raise DepartmentSheetError("无法读取文件，请上传 .xlsx 格式的表格") from error
    try:
        rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    header_index = next((i for i, row in enumerate(rows[:10]) if "名称" in [_text(c) for c in row]), None)
    if header_index is None:
        raise DepartmentSheetError("表格缺少表头：" + "、".join(COLUMNS))
    header = [_text(cell) for cell in rows[header_index]]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise DepartmentSheetError("表格缺少列：" + "、".join(missing))
    positions = {COLUMNS[name]: header.index(name) for name in COLUMNS if name in header}
    result = []
    for offset, cells in enumerate(rows[header_index + 1:], start=header_index + 2):
        values = {key: _text(cells[index]) if index < len(cells) else "" for key, index in positions.items()}
        if any(values.values()):
            result.append(DepartmentRow(line=offset, **values))
    return result


# ---------------------------------------------------------------- checking

def clean_phone(raw):
    """Return (phone to store, is mobile) or raise ValueError for a malformed number."""
    text = re.sub(r"\s+", "", raw or "")
    if not text:
        return None, False
    mobile = normalise_phone(text)
    if phone_error(mobile) is None:
        return mobile, True
    if LANDLINE_PATTERN.fullmatch(text):
        return text, False
    raise ValueError(raw)


def check_department_rows(rows):
    """Return every problem of the sheet as 第N行：… messages; an empty list means it can be imported."""
    problems = []

    def problem(row, message):
        problems.append(f"第{row.line}行：{message}")

    if not rows:
        return ["表格中没有部门"]
    departments = {d.name: d for d in db.session.execute(select(ReviewDepartment)).scalars()}
    accounts = {u.username: u for u in db.session.execute(
        select(User).where(User.username.in_([r.username for r in rows if r.username]))
    ).scalars()}
    first_line_of_name, first_line_of_username = {}, {}
    sheet_dimension, sheet_parent = {}, {}
    for row in rows:
        if not row.name:
            problem(row, "缺少名称")
        elif row.name in first_line_of_name:
            problem(row, f"名称“{row.name}”与第{first_line_of_name[row.name]}行重复")
        else:
            first_line_of_name[row.name] = row.line
        if len(row.name) > 100:
            problem(row, "名称最多100字")
        dimension = DIMENSIONS.get(row.dimension)
        if dimension is None:
            problem(row, f"维度“{row.dimension}”应为 行业 或 属地")
        if row.name:
            sheet_dimension.setdefault(row.name, dimension)
            sheet_parent.setdefault(row.name, row.parent or None)
        try:
            clean_phone(row.phone)
        except ValueError:
            problem(row, f"联系电话“{row.phone}”格式不正确（手机号11位，座机如 022-65301234）")
        _check_username(row, accounts, departments, first_line_of_username, problem)

    for row in rows:
        if not row.parent or not row.name:
            continue
        if row.parent == row.name:
            problem(row, "上级部门不能是部门自己")
            continue
        if row.parent in sheet_dimension:
            parent_dimension = sheet_dimension[row.parent]
        elif row.parent in departments:
            parent_dimension = departments[row.parent].dimension
        else:
            problem(row, f"上级部门“{row.parent}”不存在（表格和系统中都没有）")
            continue
        own = DIMENSIONS.get(row.dimension)
        if own and parent_dimension and own != parent_dimension:
            problem(row, f"维度与上级部门“{row.parent}”（{SHEET_DIMENSION[parent_dimension]}）不一致")
        if _makes_cycle(row.name, sheet_parent, departments):
            problem(row, "上级部门形成循环")
    return problems


def _check_username(row, accounts, departments, first_line_of_username, problem):
    if not row.username:
        problem(row, "缺少账号")
        return
    if not USERNAME_PATTERN.fullmatch(row.username):
        problem(row, f"账号“{row.username}”只能由3-64位字母、数字、下划线、点或横线组成")
        return
    if row.username in first_line_of_username:
        problem(row, f"账号“{row.username}”与第{first_line_of_username[row.username]}行重复")
        return
    first_line_of_username[row.username] = row.line
    account = accounts.get(row.username)
    if account is None:
        return
    department = departments.get(row.name)
    if account.role != REVIEW or department is None or account.department_id != department.id:
        problem(row, f"账号“{row.username}”已被其他单位使用")


def _makes_cycle(name, sheet_parent, departments):
    """Follow the parents (the sheet's first, then the database's) and report a loop."""
    by_id = {d.id: d.name for d in departments.values()}
    seen, current = set(), name
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        if current in sheet_parent:
            current = sheet_parent[current]
        elif current in departments and departments[current].parent_id:
            current = by_id.get(departments[current].parent_id)
        else:
            current = None
    return False


# ---------------------------------------------------------------- writing

# Issued passwords are random 12-character secrets (about 71 bits) that live only until the
# first login forces a change, so a lighter scrypt cost is ample for them: 60 accounts hash
# in about a second instead of ten. Passwords people choose get the full default cost.
ISSUED_PASSWORD_METHOD = "scrypt:4096:8:1"


def hash_passwords(passwords):
    """Hash many issued passwords at once; scrypt releases the GIL, so threads share the cores."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda password: hash_password(password, ISSUED_PASSWORD_METHOD), passwords))


def import_departments(rows, actor=None):
    """Check every row, then create or update all departments and accounts; flush, never commit.

    Returns (result, problems): with any problem nothing is written and result is None.
    """
    problems = check_department_rows(rows)
    if problems:
        return None, problems
    result = ImportResult()
    departments = {d.name: d for d in db.session.execute(select(ReviewDepartment)).scalars()}
    for order, row in enumerate(rows):
        phone, _ = clean_phone(row.phone)
        department = departments.get(row.name)
        if department is None:
            department = ReviewDepartment(name=row.name, sort_order=order)
            db.session.add(department)
            departments[row.name] = department
            result.created_departments += 1
        else:
            result.updated_departments += 1
        department.dimension = DIMENSIONS[row.dimension]
        if phone:
            department.contact_phone = phone
    for row in rows:
        departments[row.name].parent = departments[row.parent] if row.parent else None
    db.session.flush()

    accounts = {u.username: u for u in db.session.execute(
        select(User).where(User.username.in_([r.username for r in rows]))
    ).scalars()}
    new_accounts = []
    for row in rows:
        phone, is_mobile = clean_phone(row.phone)
        account = accounts.get(row.username)
        if account is None:
            account = User(username=row.username, role=REVIEW, department=departments[row.name],
                           must_change_password=True)
            db.session.add(account)
            new_accounts.append((row.name, account, random_password()))
        else:
            result.existing_accounts += 1
        account.display_name = row.name
        if is_mobile:
            account.phone = phone
    for (_, account, _), hashed in zip(new_accounts, hash_passwords([p for _, _, p in new_accounts])):
        account.password_hash = hashed
    result.credentials = [(name, account.username, password) for name, account, password in new_accounts]
    record_event(actor, "import_departments", target_type="department", detail=result.summary(),
                 requested=len(rows), changed=result.created_departments + result.updated_departments)
    db.session.flush()
    return result, []


def credentials_workbook(credentials):
    """The credentials sheet (部门, 账号, 初始密码) as .xlsx bytes."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("账号密码")
    for column, width in zip("ABC", (36, 20, 18)):
        sheet.column_dimensions[column].width = width
    sheet.append(list(CREDENTIAL_HEADERS))
    for department, username, password in credentials:
        # A department name comes from an uploaded sheet: it must not become a formula here.
        sheet.append([neutralise(str(department)), neutralise(str(username)), neutralise(str(password))])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def department_template_workbook():
    """An empty import sheet with the header and two example rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("审核部门")
    for column, width in zip("ABCDE", (30, 8, 30, 16, 16)):
        sheet.column_dimensions[column].width = width
    sheet.append(list(COLUMNS))
    sheet.append(["区商务局", "行业", "", "022-65301234", "shangwu"])
    sheet.append(["区商务局市场服务中心", "行业", "区商务局", "13800000000", "shangwu_sc"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
