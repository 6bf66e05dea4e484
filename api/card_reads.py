"""POST /api/v1/card-reads: an ID card read at a station desk, sent by the reader agent.

Answers 201 with the match on the first delivery of a `read_id` and 200 with the stored
result on every replay (the agent retries until it gets an answer), 401 for a missing,
unknown or revoked token, 422 for a body that is not what is documented, 429 when a
token sends too fast. Every accepted read is stored as a CardRead and pushed live to
the desks of the token's station.
"""

import contextlib
import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app, jsonify, request
from flask_limiter.util import get_remote_address
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from admin_views.labels import (
    CARD_TYPE_LABELS,
    GENDER_LABELS,
    STATUS_LABELS,
    VERDICT_LABELS,
    dose_label,
    error_text,
    verdict_detail,
)
from api import ApiError, bp
from extensions import db, limiter
from models.base import CAMPAIGN_TZ, now
from models.identity import id_number_error, normalise_id_number
from models.org import Station
from models.reader import CardRead, ReaderToken, hash_token
from services import events
from services.card_match import match_row, store_read, with_desk_person
from services.desk_connection import desk_connection

MAX_BODY_BYTES = 4096
LAST_USED_PRECISION = timedelta(minutes=1)
FIELD_LIMITS = {"read_id": 64, "id_number": 32, "name": 50, "reader": 64, "read_at": 40, "card_type": 24,
                "valid_from": 10, "valid_until": 10}
CARD_TYPES = ("resident_id", "residence_permit")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
LONG_TERM = "long_term"  # valid_until of a card valid without an end date (长期)


@dataclass
class ReadPayload:
    read_id: str
    id_number: str
    name: str | None
    reader: str | None
    read_at: datetime
    card: dict = dataclasses.field(default_factory=dict)  # card_type, card_valid_from/until, card_long_term, when sent


def bearer_value():
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def rate_limit_key():
    """Limit each reader token on its own; requests without a token by address."""
    value = bearer_value()
    return "reader:" + hash_token(value) if value else "addr:" + get_remote_address()


def rate_limit():
    return current_app.config["READER_RATE_LIMIT"]


@bp.route("/card-reads", methods=("GET", "POST"))
@limiter.limit(rate_limit, key_func=rate_limit_key)
def create_card_read():
    if request.method != "POST":
        raise ApiError(405, "method_not_allowed", "不支持的请求方法，请用 POST", {"Allow": "POST"})
    # Each statement commits on its own: the read is one INSERT, and BEGIN and COMMIT would be
    # two more round trips to the database on the desk's 5-ms budget.
    with desk_connection() as connection:
        payload, token, row = authenticated_read(connection)
        match = match_row(token.station_id, row, payload.read_at, payload.name)
        # No look-up of read_id first: a replay is rare, and the unique read_id refuses the
        # insert below, which then answers with the stored read (two statements a read).
        try:
            read = store_read(match, payload.id_number, payload.read_at, read_id=payload.read_id,
                              reader=payload.reader or token.name or None, token_id=token.id, card=payload.card,
                              connection=connection)
        except IntegrityError as error:
            refused = error
        else:
            refused = None
            mark_used(token, connection)
    if refused is not None:
        # A replay of a stored read_id (or the same read twice at once): answer what was stored.
        db.session.rollback()
        stored = stored_read(payload.read_id)
        if stored is None:
            raise refused
        return replay(stored, authenticated_token())
    body = read_body(read, match.person, verdict_detail(match), match.name_mismatch, dose=match.dose)
    channel = events.station_channel(token.station_id)
    event = {"type": "card_read", "read": read.id, "verdict": read.verdict, "reader": read.reader or ""}
    db.session.commit()
    events.publish(channel, event)
    return jsonify(body), 201


def mark_used(token, connection):
    """Keep 最近使用 to the minute: a desk reading all day writes its token row once a minute, not per read."""
    current = now()
    if token.last_used_at is None or current - token.last_used_at >= LAST_USED_PRECISION:
        connection.execute(update(ReaderToken).where(ReaderToken.id == token.id).values(last_used_at=current))


@dataclass
class DeskToken:
    """The reader token a request authenticated with (read by Core: no ORM object on the hot path)."""

    id: int
    station_id: int
    name: str
    last_used_at: datetime | None


TOKEN_LOOKUP = (select(ReaderToken.id, ReaderToken.station_id, ReaderToken.name, ReaderToken.last_used_at,
                       ReaderToken.revoked_at, Station.active.label("station_active"))
                .join(Station, Station.id == ReaderToken.station_id)
                .where(ReaderToken.token_hash == bindparam("token_hash")))
# The token and the person of the card with everything the answer shows (built once).
DESK_READ = with_desk_person(TOKEN_LOOKUP, bindparam("id_number"), ReaderToken.station_id)


def authenticated_read(connection):
    """The validated body, the desk's token and the person of the card, in one round trip.

    A missing, unknown or revoked token is refused before a bad body, as if checked first.
    """
    value = bearer_value()
    if not value:
        raise _missing_token()
    try:
        payload = parse_payload()
    except ApiError:
        authenticated_token()
        raise
    row = connection.execute(DESK_READ, {"token_hash": hash_token(value), "id_number": payload.id_number}).one_or_none()
    return payload, _desk_token(row), row


def authenticated_token():
    value = bearer_value()
    if not value:
        raise _missing_token()
    return _desk_token(db.session.execute(TOKEN_LOOKUP, {"token_hash": hash_token(value)}).one_or_none())


def _missing_token():
    return ApiError(401, "missing_token", "缺少读卡器令牌（Authorization: Bearer …）",
                    {"WWW-Authenticate": 'Bearer realm="card-reads"'})


def _desk_token(row):
    """The DeskToken of a TOKEN_LOOKUP row, or raise 401 for none, a revoked token or a closed station."""
    if row is None or row.revoked_at is not None:
        raise ApiError(401, "invalid_token", "读卡器令牌无效或已吊销",
                       {"WWW-Authenticate": 'Bearer realm="card-reads", error="invalid_token"'})
    if not row.station_active:
        raise ApiError(401, "station_inactive", "该接种站已停用")
    return DeskToken(row.id, row.station_id, row.name, row.last_used_at)


def parse_payload():
    """Return the validated body, or raise ApiError 413/422 saying what is wrong."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", "请求内容过大")
    if not request.is_json:
        raise ApiError(422, "not_json", "请求须为 JSON（Content-Type: application/json）")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(422, "malformed_json", "请求内容不是有效的 JSON 对象")
    for field, limit in FIELD_LIMITS.items():
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            raise ApiError(422, "wrong_type", f"字段 {field} 应为字符串")
        if value is not None and len(value) > limit:
            raise ApiError(422, "field_too_long", f"字段 {field} 过长（最多 {limit} 个字符）")
    return ReadPayload(
        read_id=_read_id(body.get("read_id")),
        id_number=_id_number(body.get("id_number")),
        name=(body.get("name") or "").strip() or None,
        reader=(body.get("reader") or "").strip() or None,
        read_at=_read_at(body.get("read_at")),
        card=_card(body),
    )


def _read_id(value):
    if not value:
        raise ApiError(422, "missing_read_id", "缺少 read_id")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(422, "invalid_read_id", "read_id 应为 UUID") from None


def _id_number(value):
    if not value:
        raise ApiError(422, "missing_id_number", "缺少身份证号 id_number")
    number = normalise_id_number(value)
    # \d in the shared check also takes other scripts' digits (e.g. ١٢٣): only ASCII is an ID number.
    error = id_number_error(number) if number.isascii() else "身份证号只能包含数字和X"
    if error:
        raise ApiError(422, "invalid_id_number", error_text(error))
    return number


def _card(body):
    """What the card says of itself: its type and validity period (all optional)."""
    card = {}
    card_type = body.get("card_type")
    if card_type is not None:
        if card_type not in CARD_TYPES:
            raise ApiError(422, "invalid_card_type",
                           "card_type 应为 resident_id（居民身份证）或 residence_permit（港澳台居民居住证）")
        card["card_type"] = card_type
    valid_from = _card_date(body.get("valid_from"), "valid_from", "证件有效期起始日期")
    until = body.get("valid_until")
    long_term = until == LONG_TERM
    valid_until = None if long_term else _card_date(until, "valid_until", "证件有效期截止日期")
    if valid_from is not None:
        if valid_from > now().date() + timedelta(days=1):
            raise ApiError(422, "invalid_valid_from", "证件有效期起始日期晚于今天，请重新读卡")
        card["card_valid_from"] = valid_from
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise ApiError(422, "invalid_validity", "证件有效期截止日期早于起始日期，请重新读卡")
    if valid_until is not None or long_term:
        card["card_valid_until"], card["card_long_term"] = valid_until, long_term
    return card


def _card_date(value, name, label):
    if not value:
        return None
    if ISO_DATE.fullmatch(value):
        with contextlib.suppress(ValueError):  # 2026-02-30
            return date.fromisoformat(value)
    raise ApiError(422, f"invalid_{name}", f"{label} {name} 应为日期（YYYY-MM-DD）" +
                   ("或 long_term（长期）" if name == "valid_until" else ""))


def _read_at(value):
    """Parse ISO-8601 into naive campaign-local time; a clock ahead of ours counts as now."""
    current = now()
    if not value:
        return current
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "invalid_read_at", "read_at 应为 ISO-8601 时间") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(CAMPAIGN_TZ).replace(tzinfo=None)
    return min(parsed.replace(microsecond=0), current)


def stored_read(read_id):
    return db.session.execute(select(CardRead).where(CardRead.read_id == read_id)).scalar_one_or_none()


def replay(read, token):
    """Answer a read_id that is already stored with its stored result."""
    if read.station_id != token.station_id:
        raise ApiError(409, "read_id_conflict", "该 read_id 已被其他接种站使用")
    return jsonify(read_body(read, read.person, "", bool(read.name_mismatch), replayed=True)), 200


def read_body(read, person, detail, name_mismatch, replayed=False, dose=None):
    """The JSON answer: verdict, and the person, enterprise and appointment where this station may see them."""
    mine = person is not None and person.station_id == read.station_id
    label = VERDICT_LABELS[read.verdict]
    body = {
        "read_id": read.read_id,
        "verdict": read.verdict,
        "verdict_label": label,
        "detail": detail,
        "name_mismatch": name_mismatch,
        "replayed": replayed,
        "person": None,
        "enterprise": None,
        "appointment": None,
        "card_expired": read.card_expired,
        "card": _card_body(read),
        # The dose due, the last dose (date, product, station), 间隔不足's first allowed day:
        # only for the station's own people.
        "dose": None,
    }
    if mine:
        body["person"] = {"id": person.id, "name": person.name, "gender": GENDER_LABELS.get(person.gender, ""),
                          "age": person.age, "status": person.status,
                          "status_label": STATUS_LABELS.get(person.status, "")}
        body["enterprise"] = {"name": person.enterprise.name}
        body["dose"] = dose.as_json(dose_label(dose.number, dose.booster)) if dose is not None else None
    if person is not None and person.slot is not None:
        body["appointment"] = {"station": person.slot.station.name,
                               "starts_at": person.slot.starts_at.isoformat(),
                               "ends_at": person.slot.ends_at.isoformat()}
    return body


def _card_body(read):
    if not (read.card_type or read.card_valid_from or read.card_valid_until or read.card_long_term):
        return None
    return {"type": read.card_type, "type_label": CARD_TYPE_LABELS.get(read.card_type or "", ""),
            "valid_from": read.card_valid_from.isoformat() if read.card_valid_from else None,
            "valid_until": LONG_TERM if read.card_long_term else (
                read.card_valid_until.isoformat() if read.card_valid_until else None),
            "expired": read.card_expired}
