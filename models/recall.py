"""Recall of a lot: everyone given it (name, ID, phone, enterprise, date, station), and a message to them.

Freezing the lot itself is `models.lots.freeze_lot`; this module finds its recipients. The
list pages by keyset on the vaccination id through the index (lot_id, id), so the first page
(and every later one) costs about one indexed range read, however many records there are;
the number of recipients comes from the lot's counter (models/lot_counts.py), not from
counting the lot's records on every page.
"""

from collections import namedtuple

from sqlalchemy import Index, bindparam, insert, literal, select, true

from extensions import db
from models.audit import record_event
from models.base import now
from models.doses import GIVEN, VALID, Vaccination
from models.lot_counts import lot_doses_column
from models.lots import StockError, VaccineLot
from models.org import Enterprise, Station
from models.person import Person
from models.sms import SmsMessage
from models.user import ADMIN, CENTER
from models.vaccines import VaccineProduct
from services import sms as sms_service

PAGE_SIZE = 50
MAX_SMS_LENGTH = 300

# Recipients of a lot in the order they were given it (declared here: the recall is what needs it).
ix_vaccination_lot = Index("ix_vaccination_lot_id_id", Vaccination.lot_id, Vaccination.id)


def _center_only(actor):
    if getattr(actor, "role", None) not in (CENTER, ADMIN):
        raise StockError("recall_center_only")


# The list and its lot are read as plain table rows: ORM entities would cost more than the
# indexed read itself (the benchmark holds the page to 3× the raw query).
RECORDS, PERSONS, ENTERPRISES, STATIONS = (model.__table__ for model in (Vaccination, Person, Enterprise, Station))
LOTS, PRODUCTS = VaccineLot.__table__, VaccineProduct.__table__


def recipients_condition(lot_id):
    return (RECORDS.c.lot_id == lot_id, RECORDS.c.outcome == GIVEN, RECORDS.c.state == VALID)


def recipients_query(lot_id):
    """The recipients of a lot, as rows of the list and the export, in the order of the doses."""
    return (
        select(RECORDS.c.id, RECORDS.c.at, RECORDS.c.dose_number, PERSONS.c.name, PERSONS.c.id_number,
               PERSONS.c.phone, ENTERPRISES.c.name.label("enterprise"), STATIONS.c.name.label("station"))
        .join(PERSONS, PERSONS.c.id == RECORDS.c.person_id)
        .join(ENTERPRISES, ENTERPRISES.c.id == PERSONS.c.enterprise_id)
        .outerjoin(STATIONS, STATIONS.c.id == RECORDS.c.station_id)
        .where(*recipients_condition(lot_id))
        .order_by(RECORDS.c.id)
    )


# The page and the heading are built once with bound parameters: building and keying a statement
# per request costs about as much as the indexed read.
FIRST_PAGE = recipients_query(bindparam("lot_id")).limit(bindparam("size"))
NEXT_PAGE = FIRST_PAGE.where(RECORDS.c.id > bindparam("after"))
HEADING_COLUMNS = (LOTS.c.id.label("lot_id"), LOTS.c.lot_number, PRODUCTS.c.name.label("product"), LOTS.c.frozen_at,
                   LOTS.c.frozen_reason, lot_doses_column(LOTS.c.id).label("given"))


def _heading_with(page):
    """The lot's heading joined to a page of its recipients: one row per recipient, one with none."""
    rows = page.subquery("recipients")
    return (
        select(*HEADING_COLUMNS, *rows.c)
        .select_from(LOTS.join(PRODUCTS, PRODUCTS.c.id == LOTS.c.product_id).outerjoin(rows, true()))
        .where(LOTS.c.id == bindparam("lot_id")).order_by(rows.c.id)
    )


HEADED_FIRST_PAGE, HEADED_NEXT_PAGE = _heading_with(FIRST_PAGE), _heading_with(NEXT_PAGE)
RecallHeading = namedtuple("RecallHeading", "id lot_number product frozen_at frozen_reason given")


def _page_params(lot_id, after, size):
    params = {"lot_id": lot_id, "size": size + 1}
    return params if after is None else {**params, "after": after}


def _cut(rows, size):
    """(the page's rows, the id after which the next page starts or None)."""
    return rows[:size], (rows[size - 1].id if len(rows) > size else None)


def recipients_page(actor, lot_id, after=None, size=PAGE_SIZE):
    """One page of recipients after the vaccination id `after`; returns (rows, next_after or None)."""
    _center_only(actor)
    rows = db.session.execute(FIRST_PAGE if after is None else NEXT_PAGE, _page_params(lot_id, after, size)).all()
    return _cut(rows, size)


def recall_page(actor, lot_id, after=None, size=PAGE_SIZE):
    """The recall list's page in one statement: (the lot's RecallHeading or None, rows, next_after or None).

    The page of a request reads its account, then this: one round trip more than the raw query.
    """
    _center_only(actor)
    statement = HEADED_FIRST_PAGE if after is None else HEADED_NEXT_PAGE
    found = db.session.execute(statement, _page_params(lot_id, after, size)).all()
    if not found:
        return None, [], None
    heading = RecallHeading(*found[0][:len(HEADING_COLUMNS)])
    rows, next_after = _cut([row for row in found if row.id is not None], size)
    return heading, rows, next_after


def queue_recall_sms(actor, lot_id, body):
    """Queue one message to each distinct phone of the lot's recipients (one INSERT … SELECT); return how many."""
    _center_only(actor)
    lot = db.session.get(VaccineLot, lot_id)
    if lot is None:
        raise StockError("lot_not_found")
    body = (body or "").strip()
    if not body or len(body) > MAX_SMS_LENGTH:
        raise StockError("sms_body_required", most=MAX_SMS_LENGTH)
    at = now()
    phones = (
        select(Person.phone).join(Vaccination, Vaccination.person_id == Person.id)
        .where(*recipients_condition(lot_id), Person.phone.is_not(None), Person.phone != "")
        .group_by(Person.phone)
    ).subquery()
    columns = {"phone": phones.c.phone, "body": literal(body), "kind": literal("recall"),
               "status": literal("queued"), "created_at": literal(at)}
    # The queue's worker claims messages due by next_attempt_at (services/sms.py, when it has one).
    if "next_attempt_at" in SmsMessage.__table__.c:
        columns.update(next_attempt_at=literal(at), attempts=literal(0))
    queued = len(db.session.execute(insert(SmsMessage).from_select(
        list(columns), select(*columns.values())).returning(SmsMessage.id)).all())
    kick = getattr(sms_service, "deliver_after_commit", None)
    if queued and kick is not None:
        kick()  # tell the worker once the transaction commits
    record_event(actor, "lot_recall_sms", target_type="vaccine_lot", target_id=lot_id, changed=queued,
                 requested=queued, detail=f"lot={lot.lot_number}")
    db.session.flush()
    return queued
