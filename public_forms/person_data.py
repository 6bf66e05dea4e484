"""The rules for one person's data, shared by the employee form, the console edit and the Excel import.

Every way a person record is written checks the same things with the same Chinese
messages: the ID number (GB 11643) decides gender and age, a stated gender or age that
disagrees is refused, the mobile number and the category are checked, and an ID
number already registered anywhere in the district is refused without saying where.
"""

from dataclasses import dataclass, field

from sqlalchemy import bindparam, exists, insert, select, true
from sqlalchemy.exc import IntegrityError

from extensions import db
from models.base import now, today
from models.identity import (
    age_on,
    id_birth_date,
    id_gender,
    id_number_error,
    normalise_id_number,
    normalise_phone,
    phone_error,
)
from models.options import PERSON_CATEGORY, OptionItem
from models.org import Enterprise
from models.person import GENDER_LABELS, Person
from models.status import REGISTERED

FIELD_LABELS = {
    "name": "姓名",
    "gender": "性别",
    "id_number": "身份证号",
    "age": "年龄",
    "phone": "手机号",
    "category": "人员类别",
    "lives_in_binhai": "是否住在滨海新区",
    "community": "现居住小区",
    "remarks": "备注",
}
FIELD_ORDER = tuple(FIELD_LABELS)
MAX_LENGTHS = {"name": 50, "community": 100, "remarks": 200}

DUPLICATE_ID_MESSAGE = "该身份证号已登记，请勿重复填报；如需修改信息，请联系本单位管理员"

GENDER_INPUTS = {"M": "M", "F": "F", "男": "M", "女": "F"}
YES_INPUTS = {"1", "true", "yes", "y", "是", "住", "住在"}
NO_INPUTS = {"0", "false", "no", "n", "否", "不是", "不住"}


@dataclass
class CleanedPerson:
    """The checked values of one person (columns of Person) and the messages per field."""

    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)

    @property
    def ok(self):
        return not self.errors

    def error_text(self):
        return "；".join(f"{FIELD_LABELS.get(key, key)}：{message}" for key, message in self.errors.items())


def _text(raw, key):
    value = raw.get(key)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _clean_bool(value):
    text = str(value).strip().lower() if value is not None else ""
    if isinstance(value, bool):
        return value
    if text in YES_INPUTS:
        return True
    if text in NO_INPUTS:
        return False
    return None


def category_error(category, categories):
    """The message for a category that is missing or not on the list (None: the list is checked elsewhere)."""
    if not category:
        return "请选择人员类别"
    if categories is not None and category not in categories:
        return "人员类别不在可选范围内：" + "、".join(categories)
    return None


def clean_person(raw, categories, on=None):
    """Check the fields of one person given as strings; return a CleanedPerson.

    `categories=None` leaves the category's membership of the list to the caller (the QR
    form's insert checks it in the database, see add_person_by_qr_token).
    """
    on = on or today()
    result = CleanedPerson()
    values, errors = result.values, result.errors

    name = _text(raw, "name")
    if not name:
        errors["name"] = "请填写姓名"
    values["name"] = name

    id_number = normalise_id_number(_text(raw, "id_number"))
    values["id_number"] = id_number
    if not id_number:
        errors["id_number"] = "请填写身份证号"
    else:
        problem = id_number_error(id_number, today=on)
        if problem:
            errors["id_number"] = problem

    if "id_number" not in errors:
        _check_gender_and_age(raw, id_number, on, values, errors)

    phone = normalise_phone(_text(raw, "phone"))
    values["phone"] = phone
    if not phone:
        errors["phone"] = "请填写手机号"
    elif phone_error(phone):
        errors["phone"] = phone_error(phone)

    category = _text(raw, "category")
    values["category"] = category
    problem = category_error(category, categories)
    if problem:
        errors["category"] = problem

    lives = _clean_bool(raw.get("lives_in_binhai"))
    values["lives_in_binhai"] = bool(lives)
    if lives is None:
        errors["lives_in_binhai"] = "请选择是否住在滨海新区"

    community = _text(raw, "community")
    values["community"] = community
    if not community:
        errors["community"] = "请填写现居住小区"

    values["remarks"] = _text(raw, "remarks")

    for key, limit in MAX_LENGTHS.items():
        if len(values[key]) > limit and key not in errors:
            errors[key] = f"最多{limit}个字"
    return result


def _check_gender_and_age(raw, id_number, on, values, errors):
    """Fill gender and age from the ID number; refuse a stated value that disagrees."""
    gender = id_gender(id_number)
    age = age_on(id_birth_date(id_number), on)
    values["gender"], values["age"] = gender, age

    stated_gender = _text(raw, "gender")
    if stated_gender:
        parsed = GENDER_INPUTS.get(stated_gender.upper())
        if parsed is None:
            errors["gender"] = "性别请填写男或女"
        elif parsed != gender:
            errors["gender"] = f"性别与身份证号不符（按身份证号应为{GENDER_LABELS[gender]}）"

    stated_age = _text(raw, "age")
    if stated_age:
        if not stated_age.isdigit():
            errors["age"] = "年龄请填写数字"
        elif int(stated_age) != age:
            errors["age"] = f"年龄与身份证号不符（按身份证号应为{age}岁）"


# ---------------------------------------------------------------- duplicates and inserts

def id_number_taken(id_number, exclude_person_id=None):
    """Whether an ID number is registered anywhere in the district (optionally except one person)."""
    statement = select(Person.id).where(Person.id_number == id_number)
    if exclude_person_id is not None:
        statement = statement.where(Person.id != exclude_person_id)
    return db.session.execute(statement.limit(1)).first() is not None


def registered_id_numbers(id_numbers, chunk=900):
    """Return which of `id_numbers` are already registered, asking in chunks."""
    numbers = sorted(set(id_numbers))
    found = set()
    for start in range(0, len(numbers), chunk):
        part = numbers[start:start + chunk]
        found.update(db.session.execute(select(Person.id_number).where(Person.id_number.in_(part))).scalars())
    return found


def person_row(enterprise_id, values, source, consent_at=None, policy_version=None, at=None):
    """The column values of a new 未提交 person."""
    return {
        "enterprise_id": enterprise_id, "status": REGISTERED, "source": source, "version": 1,
        "created_at": at or now(), "consent_at": consent_at, "policy_version": policy_version,
        **{key: values[key] for key in FIELD_ORDER},
    }


# The QR form's submission as one statement: the person is inserted only if the token
# names an enterprise and the category is an active option, so the hot path of the
# district's busiest page costs one round trip and a commit (built once, compiled once).
QR_FORM_COLUMNS = tuple(person_row(None, dict.fromkeys(FIELD_ORDER), "qr"))  # every column a new person gets


def _qr_form_insert():
    person = Person.__table__
    given = [bindparam(name, type_=person.c[name].type) for name in QR_FORM_COLUMNS if name != "enterprise_id"]
    category_listed = exists().where(OptionItem.kind == PERSON_CATEGORY, OptionItem.active == true(),
                                     OptionItem.label == bindparam("category", type_=person.c.category.type))
    source = select(Enterprise.id, *given).where(Enterprise.qr_token == bindparam("qr_token"), category_listed)
    return insert(person).from_select(list(QR_FORM_COLUMNS), source).returning(person.c.id)


QR_FORM_INSERT = _qr_form_insert()


def add_person_by_qr_token(qr_token, values, consent_at, policy_version):
    """Insert one person from the QR form and commit; return (person id, duplicate).

    (None, False) when nothing was inserted because the token names no enterprise or the
    category is not an active option: the caller looks up which, as for a GET.
    """
    row = person_row(None, values, "qr", consent_at, policy_version)
    del row["enterprise_id"]  # the statement takes it from the enterprise of the token
    try:
        person_id = db.session.execute(QR_FORM_INSERT, {**row, "qr_token": qr_token}).scalar_one_or_none()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if id_number_taken(values["id_number"]):
            return None, True
        raise
    return person_id, False


def insert_people(rows, attempts=3):
    """Insert many person rows with one statement and commit; return the rows refused as taken.

    Rows whose ID number is registered by the time of the insert (another upload or
    the QR form meanwhile) are left out and returned, never overwritten.
    """
    refused = []
    pending = list(rows)
    for _ in range(attempts):
        taken = registered_id_numbers(row["id_number"] for row in pending)
        refused.extend(row for row in pending if row["id_number"] in taken)
        pending = [row for row in pending if row["id_number"] not in taken]
        if not pending:
            return refused
        try:
            # With RETURNING, SQLAlchemy batches the rows into multi-row VALUES statements
            # ("insertmanyvalues"); a plain executemany may run one statement per row, and the
            # person triggers would then fire once per row.
            db.session.execute(insert(Person.__table__).returning(Person.__table__.c.id), pending)
            db.session.commit()
            return refused
        except IntegrityError:
            db.session.rollback()
    raise RuntimeError("could not insert the imported persons after repeated conflicts")
