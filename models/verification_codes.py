"""One-time SMS codes for any purpose: issue (with resend and daily limits), check (with tries).

Codes are six random digits stored only as a keyed hash bound to the purpose, the phone and
a subject (e.g. the ID number asked about), valid for five minutes and burnt after five wrong
tries; a phone gets at most one code a minute and a few a day per purpose. A code row is
written whether or not a message is sent, so a caller can answer the same either way (the
limits then apply alike and nobody learns from them whether a phone is on record). 企业注册,
我的接种 and 忘记密码 all use these. What a code opens is kept on its row (verified_at, and
reset_at once it is over), so the browser's cookie holds only ids.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from extensions import db
from models.base import now
from models.errors import FieldError
from models.sms import SmsCode

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=5)
MAX_ATTEMPTS = 5
RESEND_INTERVAL = timedelta(minutes=1)
DAILY_CAP = 10


@dataclass(frozen=True)
class CodePurpose:
    name: str  # stored in sms_code.purpose
    message: str  # the SMS text, with {code}
    sms_kind: str | None = None  # the 短信记录's kind, when it is not the purpose's name

    @property
    def kind(self):
        return self.sms_kind or self.name


def hash_code(purpose, phone, subject, code):
    """A keyed hash: useless without the app's secret key, even for all 10^6 guesses."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose.name}:{phone}:{subject}:{code}".encode(), hashlib.sha256).hexdigest()


def rate_limit_error(purpose, phone, at):
    """Return the FieldError saying why no code may be sent to `phone` now, or None."""
    codes = select(func.count(SmsCode.id)).where(SmsCode.phone == phone, SmsCode.purpose == purpose.name)
    if db.session.execute(codes.where(SmsCode.created_at > at - RESEND_INTERVAL)).scalar_one():
        return FieldError("sms_code", "code_requested_too_often")
    start_of_day = datetime.combine(at.date(), datetime.min.time())
    if db.session.execute(codes.where(SmsCode.created_at >= start_of_day)).scalar_one() >= DAILY_CAP:
        return FieldError("sms_code", "code_daily_cap")
    return None


def issue_code(purpose, phone, subject, send):
    """Make a code for (phone, subject); text it only when `send`. Return (code row, error).

    `send` is decided by the caller (the phone is on record); everything else happens alike.
    """
    from services import sms

    at = now()
    error = rate_limit_error(purpose, phone, at)
    if error:
        return None, error
    # A new code replaces any earlier one still open.
    db.session.execute(
        update(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.purpose == purpose.name, SmsCode.used_at.is_(None))
        .values(used_at=at)
    )
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    row = SmsCode(phone=phone, purpose=purpose.name, code_hash=hash_code(purpose, phone, subject, code),
                  created_at=at, expires_at=at + CODE_LIFETIME, attempts=0)
    db.session.add(row)
    db.session.flush()
    if send:
        # Through a real gateway the 短信记录 shows the code masked; the text is sealed until sent.
        sms.send_sms(phone, purpose.message.format(code=code), kind=purpose.kind, secret=code)
    return row, None


def check_code(purpose, code_id, phone, subject, code):
    """Spend one try on a code; return None when it is right, else the FieldError saying why not."""
    at = now()
    live = (SmsCode.id == code_id, SmsCode.phone == phone, SmsCode.purpose == purpose.name,
            SmsCode.used_at.is_(None))
    # Counting the try first, in one conditional UPDATE, keeps parallel guesses within the limit.
    counted = db.session.execute(
        update(SmsCode).where(*live, SmsCode.attempts < MAX_ATTEMPTS, SmsCode.expires_at > at)
        .values(attempts=SmsCode.attempts + 1)
    ).rowcount
    row = db.session.execute(
        select(SmsCode).where(SmsCode.id == code_id, SmsCode.phone == phone, SmsCode.purpose == purpose.name)
    ).scalar_one_or_none()
    if not counted:
        if row is not None and row.used_at is None and row.attempts < MAX_ATTEMPTS and row.expires_at <= at:
            return FieldError("sms_code", "code_expired")
        return FieldError("sms_code", "code_spent")
    if hmac.compare_digest(row.code_hash, hash_code(purpose, phone, subject, code)):
        used = db.session.execute(update(SmsCode).where(*live).values(used_at=at, verified_at=at)).rowcount
        return None if used else FieldError("sms_code", "code_spent")
    left = MAX_ATTEMPTS - row.attempts
    if left <= 0:
        row.used_at = at
        return FieldError("sms_code", "code_too_many_tries")
    return FieldError("sms_code", "code_wrong", {"left": left})


def verified_code(purpose, code_id, lifetime):
    """The code row `code_id` when it was entered right within `lifetime` and not ended since, else None."""
    if not isinstance(code_id, int):
        return None
    return db.session.execute(
        select(SmsCode).where(SmsCode.id == code_id, SmsCode.purpose == purpose.name,
                              SmsCode.verified_at.is_not(None), SmsCode.verified_at >= now() - lifetime,
                              SmsCode.reset_at.is_(None))
    ).scalar_one_or_none()


def end_verified(code_id):
    """End what a verified code opened (signing out): a saved copy of the cookie opens nothing."""
    db.session.execute(update(SmsCode).where(SmsCode.id == code_id, SmsCode.reset_at.is_(None))
                       .values(reset_at=now()))
