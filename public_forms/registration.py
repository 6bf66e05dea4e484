"""Enterprise self-registration (企业注册): the mobile form the portal's QR code opens.

A company fills in its name, unified social credit code, review department, address,
contact, phone, password and territory; on success its enterprise record and 企业端
account exist and the page shows its own QR code (企业专属二维码) for its staff.

The phone becomes a login name, so it is proven by an SMS code (获取验证码) before the
account is made. Only someone who entered the right code learns that the phone already
belongs to another enterprise account: anyone else could otherwise probe which phones
are registered, which 忘记密码 carefully does not tell either.
"""

from flask import Blueprint, current_app, make_response, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from admin_views.base import mask_phone
from admin_views.labels import DIMENSION_LABELS, error_text, field_messages
from extensions import db, limiter
from models.audit import record_event
from models.identity import credit_code_error, normalise_credit_code, normalise_phone, phone_error
from models.org import INDUSTRY, TERRITORY, Enterprise, ReviewDepartment, Territory
from models.passwords import new_password_error
from models.user import ENTERPRISE, User
from models.verification_codes import CODE_DIGITS, CodePurpose, check_code, issue_code
from services.qr import employee_form_url

bp = Blueprint("registration", __name__)

FIELDS = ("name", "credit_code", "department_id", "address", "contact_name", "phone", "sms_code", "password",
          "confirm", "territory_id")
REQUIRED_MESSAGES = {
    "name": "请填写企业名称",
    "credit_code": "请填写统一社会信用代码",
    "department_id": "请选择申报部门",
    "address": "请填写详细地址",
    "contact_name": "请填写联系人",
    "phone": "请填写手机号",
    "sms_code": "请输入短信验证码（先点“获取验证码”）",
    "password": "请设置密码",
    "confirm": "请再次输入密码",
    "territory_id": "请选择所属辖区",
}
MAX_LENGTHS = {"name": 120, "address": 200, "contact_name": 50}
CREDIT_CODE_TAKEN = "该统一社会信用代码已注册，请直接登录企业端；忘记密码可通过注册手机号找回"
PHONE_TAKEN = "该手机号已绑定其他企业账号：可用它直接登录企业端；为另一家企业注册请更换手机号"
DONE_SESSION_KEY = "registered_enterprise_id"
CODE_SESSION_KEY = "registration_code_id"
PURPOSE = CodePurpose(
    "register",
    "【滨海新区疫苗接种】您正在注册企业账号，验证码{code}，5分钟内有效。如非本人操作，请忽略本短信。",
)


def register_rate_limit():
    return current_app.config.get("REGISTER_RATE_LIMIT") or "10 per minute;60 per hour"


def department_choices():
    """Review departments grouped by dimension (行业/属地), children listed under their parent."""
    rows = db.session.execute(
        select(ReviewDepartment).order_by(ReviewDepartment.sort_order, ReviewDepartment.name)
    ).scalars().all()
    children = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    groups = {INDUSTRY: [], TERRITORY: []}

    def walk(parent_id, depth):
        for row in children.get(parent_id, ()):
            groups.setdefault(row.dimension, []).append((row.id, "　" * depth + ("└ " if depth else "") + row.name))
            walk(row.id, depth + 1)

    walk(None, 0)
    return [(DIMENSION_LABELS.get(dimension, dimension), options) for dimension, options in groups.items() if options]


def territory_choices():
    rows = db.session.execute(select(Territory).order_by(Territory.sort_order, Territory.name)).scalars()
    return [(row.id, row.name) for row in rows]


def _int_or_none(text):
    """An id from a form field, or None; out-of-range numbers are None too (no database takes them)."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 2**31 else None


def clean_registration(form):
    """Check the posted registration; return (values, {field: message})."""
    values = {key: (form.get(key) or "").strip() for key in FIELDS}
    values["password"], values["confirm"] = form.get("password") or "", form.get("confirm") or ""
    errors = {key: message for key, message in REQUIRED_MESSAGES.items() if not values[key]}

    values["credit_code"] = normalise_credit_code(values["credit_code"])
    if "credit_code" not in errors:
        problem = credit_code_error(values["credit_code"])
        if problem:
            errors["credit_code"] = error_text(problem)
    values["phone"] = normalise_phone(values["phone"])
    if "phone" not in errors and phone_error(values["phone"]):
        errors["phone"] = error_text(phone_error(values["phone"]))
    if "password" not in errors:
        problem = new_password_error(values["password"], [values.get(key) for key in
                                                          ("credit_code", "phone", "contact_name", "name")])
        if problem:
            errors["password"] = error_text(problem)
    if "confirm" not in errors and "password" not in errors and values["confirm"] != values["password"]:
        errors["confirm"] = "两次输入的密码不一致"
    for key, limit in MAX_LENGTHS.items():
        if key not in errors and len(values[key]) > limit:
            errors[key] = f"最多{limit}个字"

    department = db.session.get(ReviewDepartment, _int_or_none(values["department_id"]) or 0)
    if "department_id" not in errors and department is None:
        errors["department_id"] = "请选择申报部门"
    territory = db.session.get(Territory, _int_or_none(values["territory_id"]) or 0)
    if "territory_id" not in errors and territory is None:
        errors["territory_id"] = "请选择所属辖区"
    values["department"], values["territory"] = department, territory

    if "credit_code" not in errors and _credit_code_taken(values["credit_code"]):
        errors["credit_code"] = CREDIT_CODE_TAKEN
    if "sms_code" not in errors and not (values["sms_code"].isascii() and values["sms_code"].isdigit()
                                         and len(values["sms_code"]) == CODE_DIGITS):
        errors["sms_code"] = f"请输入短信中的{CODE_DIGITS}位数字验证码"
    return values, errors


def proven_phone_error(values):
    """Spend one try of the code sent to the phone; once it is right, say if the phone is taken."""
    code_id = session.get(CODE_SESSION_KEY)
    if not isinstance(code_id, int):
        return None, "请先获取短信验证码"
    problem = check_code(PURPOSE, code_id, values["phone"], "", values["sms_code"])
    if problem:
        return None, problem
    session.pop(CODE_SESSION_KEY, None)
    return (PHONE_TAKEN, None) if _phone_taken(values["phone"]) else (None, None)


def _credit_code_taken(code):
    return db.session.execute(
        select(Enterprise.id).where(Enterprise.credit_code == code)
        .union_all(select(User.id).where(User.username == code))
        .limit(1)
    ).first() is not None


def _phone_taken(phone):
    return db.session.execute(
        select(User.id).where(User.role == ENTERPRISE, User.phone == phone).limit(1)
    ).first() is not None


def create_enterprise_account(values):
    """Create the enterprise and its 企业端 account (username = credit code); flush, no commit."""
    enterprise = Enterprise(
        name=values["name"], credit_code=values["credit_code"], department=values["department"],
        territory=values["territory"], address=values["address"], contact_name=values["contact_name"],
        phone=values["phone"],
    )
    user = User(username=values["credit_code"], role=ENTERPRISE, phone=values["phone"],
                display_name=values["name"], enterprise=enterprise)
    user.set_password(values["password"])
    db.session.add_all([enterprise, user])
    db.session.flush()
    record_event(user, "enterprise_registered", target_type="enterprise", target_id=enterprise.id)
    return enterprise


def registration_page(values, errors, notice=None):
    """The form again, with what was typed; a password only when it passed (the page is never cached)."""
    errors = field_messages(errors)
    if errors.get("password") or errors.get("confirm"):
        values.pop("password", None)
        values.pop("confirm", None)
    if errors.get("sms_code"):
        values.pop("sms_code", None)
    response = make_response(render_template(
        "public/register.html", values=values, errors=errors, notice=notice,
        departments=department_choices(), territories=territory_choices()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/register", methods=("GET", "POST"))
@limiter.limit(register_rate_limit, methods=["POST"])
def register():
    if request.method == "GET":
        return registration_page({}, {})
    values, errors = clean_registration(request.form)
    if errors:
        # The code is checked only once everything else is right, so a typo costs no try.
        return registration_page(values, errors)
    taken, code_problem = proven_phone_error(values)
    if code_problem or taken:
        db.session.commit()  # the try (or the spent code) counts, whatever comes next
        return registration_page(values, {"sms_code": code_problem} if code_problem else {"phone": taken})
    try:
        enterprise = create_enterprise_account(values)
        db.session.commit()
    except IntegrityError:
        # Someone registered the same code (or phone) between our check and the insert.
        db.session.rollback()
        return registration_page(values, {"credit_code": CREDIT_CODE_TAKEN})
    session[DONE_SESSION_KEY] = enterprise.id
    return redirect(url_for("registration.done"))


@bp.route("/register/code", methods=("POST",))
@limiter.limit(register_rate_limit)
def send_code():
    """获取验证码: text a code to the typed phone, whoever it belongs to, and show the form again."""
    values = {key: (request.form.get(key) or "").strip() for key in FIELDS}
    values["password"], values["confirm"] = request.form.get("password") or "", request.form.get("confirm") or ""
    values["phone"] = normalise_phone(values["phone"])
    problem = error_text(phone_error(values["phone"])) if values["phone"] else REQUIRED_MESSAGES["phone"]
    if problem:
        return registration_page(values, {"phone": problem})
    row, problem = issue_code(PURPOSE, values["phone"], "", send=True)
    if problem:
        return registration_page(values, {"sms_code": problem})
    session[CODE_SESSION_KEY] = row.id
    db.session.commit()
    notice = f"验证码已发送至{mask_phone(values['phone'])}，5分钟内有效；收到后填入“短信验证码”，再点“立刻提交”。"
    return registration_page(values, {}, notice)


@bp.route("/register/done")
def done():
    """The page right after registering: the enterprise's own QR code, download and poster."""
    enterprise = db.session.get(Enterprise, session.get(DONE_SESSION_KEY) or 0)
    if enterprise is None:
        return redirect(url_for("registration.register"))
    return render_template("public/register_done.html", enterprise=enterprise,
                           form_url=employee_form_url(enterprise))
