"""Person records: the checks of one person's data, and creating, importing, editing and deleting records.

Every way a person record is written checks the same things with the same messages:
the ID number (GB 11643) decides gender and age, a stated gender or age that disagrees
is refused, the mobile number and the category are checked, and an ID number already
registered anywhere in the district is refused without saying where. Errors come back
per field ({field: FieldError}); the screens word them (admin_views/labels.py) and put the
field names in front. The operations
flush and never commit: the request commits once.
"""

import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import bindparam, delete, exists, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from extensions import db
from models.audit import PersonEvent, record_event
from models.base import now, today
from models.errors import FieldError
from models.identity import (
    age_on,
    id_birth_date,
    id_gender,
    id_number_error,
    normalise_id_number,
    normalise_phone,
    phone_error,
)
from models.import_file import ImportRejectFile
from models.options import PERSON_CATEGORY, OptionItem
from models.org import Enterprise
from models.person import Person
from models.status import REGISTERED
from models.user import ENTERPRISE, User
from models.workflow import WorkflowError, person_scope

FIELD_ORDER = ("name", "gender", "id_number", "age", "phone", "category", "lives_in_binhai", "community", "remarks")
MAX_LENGTHS = {"name": 50, "community": 100, "remarks": 200}
MAX_AGE = 120  # the oldest living people are under this; an older birth date is a typing error

DUPLICATE_ID = FieldError("id_number", "id_number_taken")
TAKEN_HERE, TAKEN_ELSEWHERE = "here", "elsewhere"
LOST_DIGITS = FieldError("id_number", "id_number_lost_digits")
REJECTS_KEEP = timedelta(days=1)

# What a sheet or a form may type for gender and for 是否住在滨海新区: input the parser reads.
GENDER_INPUTS = {"M": "M", "F": "F", "男": "M", "女": "F"}
YES_INPUTS = {"1", "true", "yes", "y", "是", "住", "住在"}
NO_INPUTS = {"0", "false", "no", "n", "否", "不是", "不住"}


# ---------------------------------------------------------------- checking one person

@dataclass
class CleanedPerson:
    """The checked values of one person (columns of Person) and the FieldError per field."""

    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)

    @property
    def ok(self):
        return not self.errors


def _text(raw, key):
    value = raw.get(key)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _invisible_characters(text):
    """Zero-width, direction-override and other format characters (Unicode Cf): a name never needs them,
    and they make one name look like another on screen and in exports."""
    return [c for c in text if unicodedata.category(c) == "Cf"]


def _visible(text):
    return any(not c.isspace() and unicodedata.category(c) != "Cf" for c in text)


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
    """The FieldError of a category that is missing or not on the list (None: the list is checked elsewhere)."""
    if not category:
        return FieldError("category", "category_required")
    if categories is not None and category not in categories:
        return FieldError("category", "category_unlisted", {"categories": tuple(categories)})
    return None


def clean_person(raw, categories, on=None):
    """Check the fields of one person given as strings; return a CleanedPerson.

    `categories=None` leaves the category's membership of the list to the caller (the QR
    form's insert checks it in the database, see add_from_qr_form).
    """
    on = on or today()
    result = CleanedPerson()
    values, errors = result.values, result.errors

    name = _text(raw, "name")
    if not _visible(name):
        errors["name"] = FieldError("name", "name_required")
    elif _invisible_characters(name):
        errors["name"] = FieldError("name", "name_invisible_characters")
    values["name"] = name

    id_number = normalise_id_number(_text(raw, "id_number"))
    values["id_number"] = id_number
    if not id_number:
        errors["id_number"] = FieldError("id_number", "id_number_required")
    else:
        problem = id_number_error(id_number, today=on)
        if problem:
            errors["id_number"] = problem

    if "id_number" not in errors:
        _check_gender_and_age(raw, id_number, on, values, errors)

    phone = normalise_phone(_text(raw, "phone"))
    values["phone"] = phone
    if not phone:
        errors["phone"] = FieldError("phone", "phone_required")
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
        errors["lives_in_binhai"] = FieldError("lives_in_binhai", "lives_in_binhai_required")

    community = _text(raw, "community")
    values["community"] = community
    if not community:
        errors["community"] = FieldError("community", "community_required")

    values["remarks"] = _text(raw, "remarks")

    for key, limit in MAX_LENGTHS.items():
        if len(values[key]) > limit and key not in errors:
            errors[key] = FieldError(key, "too_long", {"most": limit})
    return result


def _check_gender_and_age(raw, id_number, on, values, errors):
    """Fill gender and age from the ID number; refuse a stated value that disagrees."""
    gender = id_gender(id_number)
    age = age_on(id_birth_date(id_number), on)
    values["gender"], values["age"] = gender, age
    if age > MAX_AGE:
        errors["id_number"] = FieldError("id_number", "id_number_too_old", {"age": age, "most": MAX_AGE})
        return

    stated_gender = _text(raw, "gender")
    if stated_gender:
        parsed = GENDER_INPUTS.get(stated_gender.upper())
        if parsed is None:
            errors["gender"] = FieldError("gender", "gender_unreadable")
        elif parsed != gender:
            errors["gender"] = FieldError("gender", "gender_differs", {"gender": gender})

    stated_age = _text(raw, "age")
    if stated_age:
        if not stated_age.isdigit():
            errors["age"] = FieldError("age", "age_not_a_number")
        elif int(stated_age) != age:
            errors["age"] = FieldError("age", "age_differs", {"age": age})


# ---------------------------------------------------------------- duplicates and rows

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


def _insert_skipping_taken_ids():
    """INSERT INTO person … ON CONFLICT (id_number) DO NOTHING, in the session's dialect.

    The unique constraint decides a race with another upload or the QR form: a taken
    number is skipped by the statement itself, so the transaction is never aborted and
    nothing else the request wrote has to be given up.
    """
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(Person.__table__)


# The QR form's submission as one statement: the person is inserted only if the token
# names an enterprise and the category is an active option, so the hot path of the
# district's busiest page costs one round trip and a commit (built once per dialect).
QR_FORM_COLUMNS = tuple(person_row(None, dict.fromkeys(FIELD_ORDER), "qr"))  # every column a new person gets
_qr_form_inserts = {}


def _qr_form_insert():
    name = db.session.get_bind().dialect.name
    if name not in _qr_form_inserts:
        person = Person.__table__
        given = [bindparam(column, type_=person.c[column].type) for column in QR_FORM_COLUMNS
                 if column != "enterprise_id"]
        category_listed = exists().where(OptionItem.kind == PERSON_CATEGORY, OptionItem.active == true(),
                                         OptionItem.label == bindparam("category", type_=person.c.category.type))
        source = select(Enterprise.id, *given).where(Enterprise.qr_token == bindparam("qr_token"), category_listed,
                                                      enterprise_accepts_staff())
        _qr_form_inserts[name] = (
            _insert_skipping_taken_ids().from_select(list(QR_FORM_COLUMNS), source)
            .on_conflict_do_nothing(index_elements=["id_number"]).returning(person.c.id)
        )
    return _qr_form_inserts[name]


def enterprise_accepts_staff(enterprise_id=Enterprise.id):
    """An enterprise takes registrations unless the admin deactivated its accounts (one with no account
    of its own, e.g. loaded by the center, takes them too)."""
    accounts = exists().where(User.enterprise_id == enterprise_id, User.role == ENTERPRISE)
    active = exists().where(User.enterprise_id == enterprise_id, User.role == ENTERPRISE, User.active.is_(True))
    return or_(active, ~accounts)


# ---------------------------------------------------------------- creating

def add_from_qr_form(qr_token, values, consent_at, policy_version):
    """Insert one person from the QR form; return (person id, where the ID number is taken).

    The second value is TAKEN_HERE when the ID number is already registered with the
    enterprise of the token (the same person submitting again), TAKEN_ELSEWHERE when
    another enterprise holds it, and None otherwise. (None, None) when nothing was
    inserted because the token names no enterprise, the enterprise's account is
    deactivated, or the category is not an active option: the caller looks up which,
    as for a GET.
    """
    row = person_row(None, values, "qr", consent_at, policy_version)
    del row["enterprise_id"]  # the statement takes it from the enterprise of the token
    person_id = db.session.execute(_qr_form_insert(), {**row, "qr_token": qr_token}).scalar_one_or_none()
    if person_id is None:
        return None, where_id_number_is_taken(values["id_number"], qr_token)
    return person_id, None


def where_id_number_is_taken(id_number, qr_token):
    """TAKEN_HERE, TAKEN_ELSEWHERE (relative to the enterprise of `qr_token`) or None when the number is free."""
    of_token = select(Enterprise.id).where(Enterprise.qr_token == qr_token).scalar_subquery()
    found = db.session.execute(select(Person.enterprise_id, of_token).where(Person.id_number == id_number)
                               .limit(1)).first()
    if found is None:
        return None
    holder, enterprise_id = found
    return TAKEN_HERE if holder is not None and holder == enterprise_id else TAKEN_ELSEWHERE


def insert_people(rows):
    """Insert many person rows with one statement; return the rows refused because their ID number is taken."""
    if not rows:
        return []
    # With RETURNING, SQLAlchemy batches the rows into multi-row VALUES statements
    # ("insertmanyvalues"); a plain executemany may run one statement per row, and the
    # person triggers would then fire once per row.
    statement = (_insert_skipping_taken_ids().on_conflict_do_nothing(index_elements=["id_number"])
                 .returning(Person.__table__.c.id_number))
    inserted = set(db.session.execute(statement, rows).scalars())
    return [row for row in rows if row["id_number"] not in inserted]


# ---------------------------------------------------------------- importing a sheet

@dataclass
class ImportOutcome:
    """What an import did: rows read, rows inserted, the refused rows [(row number, raw, errors)]."""

    total: int
    inserted: int
    rejected: list
    reject_token: str | None = None


def check_rows(rows, categories, lost_digits_mark=None):
    """Split sheet rows into (valid [(row number, raw, values)], rejected [(row number, raw, errors)])."""
    valid, rejected, first_row_of = [], [], {}
    for number, raw in rows:
        if lost_digits_mark is not None and raw.get("id_number") == lost_digits_mark:
            rejected.append((number, raw, {"id_number": LOST_DIGITS}))
            continue
        cleaned = clean_person(raw, categories)
        if not cleaned.ok:
            rejected.append((number, raw, cleaned.errors))
            continue
        id_number = cleaned.values["id_number"]
        if id_number in first_row_of:
            rejected.append((number, raw, {"id_number": FieldError("id_number", "id_number_repeated_row",
                                                                     {"row": first_row_of[id_number]})}))
            continue
        first_row_of[id_number] = number
        valid.append((number, raw, cleaned.values))
    taken = registered_id_numbers(values["id_number"] for _, _, values in valid)
    rejected.extend((number, raw, {"id_number": DUPLICATE_ID})
                    for number, raw, values in valid if values["id_number"] in taken)
    valid = [item for item in valid if item[2]["id_number"] not in taken]
    return valid, rejected


def import_people(actor, rows, categories, *, rejects_workbook, lost_digits_mark=None):
    """Check and insert sheet rows of the actor's enterprise, store the refused rows, audit; return an ImportOutcome.

    All in the caller's transaction: the rows, the rejected-rows workbook
    (`rejects_workbook(rejected)` returns its bytes) and the audit event land together
    or not at all.
    """
    enterprise_id = getattr(actor, "enterprise_id", None)
    if not enterprise_id:
        raise WorkflowError("not_allowed")
    valid, rejected = check_rows(rows, categories, lost_digits_mark)
    at = now()
    refused = insert_people([person_row(enterprise_id, values, "import", at=at) for _, _, values in valid])
    refused_numbers = {row["id_number"] for row in refused}
    rejected.extend((number, raw, {"id_number": DUPLICATE_ID})
                    for number, raw, values in valid if values["id_number"] in refused_numbers)
    rejected.sort(key=lambda item: item[0])
    outcome = ImportOutcome(total=len(rows), inserted=len(valid) - len(refused), rejected=rejected)
    if rejected:
        outcome.reject_token = save_rejects(enterprise_id, rejects_workbook(rejected))
    record_event(actor, "person_import", target_type="person", requested=len(rows), changed=outcome.inserted,
                 detail=f"rows={len(rows)} inserted={outcome.inserted} rejected={len(rejected)}")
    db.session.flush()
    return outcome


def save_rejects(enterprise_id, content):
    """Store a workbook of rejected rows for a day; return the random token of its download link."""
    remove_old_rejects()
    token = secrets.token_urlsafe(24)
    db.session.add(ImportRejectFile(token=token, enterprise_id=enterprise_id, content=content))
    return token


def stored_rejects(enterprise_id, token):
    """The stored workbook of one enterprise's rejected rows (the token is random and bound to the enterprise)."""
    if not enterprise_id:
        return None
    return db.session.execute(select(ImportRejectFile).where(
        ImportRejectFile.token == token, ImportRejectFile.enterprise_id == enterprise_id,
        ImportRejectFile.created_at >= now() - REJECTS_KEEP,
    )).scalar_one_or_none()


def remove_old_rejects():
    """Rejected-row workbooks hold personal data: keep them a day at most."""
    db.session.execute(delete(ImportRejectFile).where(ImportRejectFile.created_at < now() - REJECTS_KEEP))


# ---------------------------------------------------------------- editing and deleting

@dataclass
class EditOutcome:
    """What an edit did: saved (possibly with nothing to change), refused per field, or lost a race."""

    saved: bool = False
    errors: dict = field(default_factory=dict)
    conflict: bool = False


def edit_person(actor, person, values, categories, posted_version):
    """Check and write one edit of a 未提交 person, only if nobody changed it since `posted_version`.

    One conditional UPDATE (scope, status and version in its WHERE); a duplicate ID
    number that slips past the check is refused by the unique constraint (IntegrityError
    for the caller, who gives the request up).
    """
    if str(posted_version) != str(person.version):
        return EditOutcome(conflict=True)
    cleaned = clean_person(values, categories)
    if not cleaned.ok:
        return EditOutcome(errors=cleaned.errors)
    if id_number_taken(cleaned.values["id_number"], exclude_person_id=person.id):
        return EditOutcome(errors={"id_number": DUPLICATE_ID})
    changed = sorted(key for key in FIELD_ORDER if getattr(person, key) != cleaned.values[key])
    if not changed:
        return EditOutcome(saved=True)
    result = db.session.execute(
        update(Person)
        .where(Person.id == person.id, person_scope(actor), Person.status == REGISTERED,
               Person.version == person.version)
        .values(**{key: cleaned.values[key] for key in changed}, version=Person.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return EditOutcome(conflict=True)
    record_event(actor, "person_edit", target_type="person", target_id=person.id,
                 detail="fields=" + ",".join(changed))
    db.session.flush()
    return EditOutcome(saved=True)


def delete_registered(actor, ids):
    """Delete the actor's 未提交 persons among `ids` with set-based statements; return (requested, deleted)."""
    clean = sorted({int(i) for i in ids if str(i).isdigit()})
    if not clean:
        return 0, 0
    deletable = select(Person.id).where(Person.id.in_(clean), person_scope(actor), Person.status == REGISTERED)
    # Lock the rows (PostgreSQL) so a submit running at the same moment waits instead of racing us.
    chosen = list(db.session.execute(deletable.with_for_update()).scalars())
    deleted = 0
    if chosen:
        db.session.execute(delete(PersonEvent).where(PersonEvent.person_id.in_(chosen)))
        deleted = db.session.execute(
            delete(Person).where(Person.id.in_(chosen), Person.status == REGISTERED)
            .execution_options(synchronize_session=False)
        ).rowcount
    record_event(actor, "person_delete", target_type="person", requested=len(clean), changed=deleted,
                 detail="ids=" + ",".join(str(i) for i in chosen[:500]))
    db.session.flush()
    return len(clean), deleted
