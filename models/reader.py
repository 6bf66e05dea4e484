"""Card readers at the station desks: their tokens and every read they send."""

import hashlib
import secrets

from extensions import db
from models.base import now


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


class ReaderToken(db.Model):
    """A bearer token of one station desk; only its hash is stored."""

    __tablename__ = "reader_token"
    id = db.Column(db.Integer, primary_key=True)
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"), nullable=False, index=True)
    name = db.Column(db.String(64), nullable=False, default="")
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=now)
    revoked_at = db.Column(db.DateTime)
    last_used_at = db.Column(db.DateTime)

    station = db.relationship("Station")

    @classmethod
    def issue(cls, station, name=""):
        """Create a token for a station desk; return (row, plain token shown once)."""
        plain = "rdr_" + secrets.token_urlsafe(32)
        row = cls(station=station, name=name, token_hash=hash_token(plain))
        db.session.add(row)
        return row, plain

    @property
    def active(self):
        return self.revoked_at is None


# What a card says it is (sent by the reader agent; none for a number typed at the desk).
CARD_TYPES = ("resident_id", "residence_permit")  # worded in admin_views/labels.py


class CardRead(db.Model):
    __tablename__ = "card_read"
    id = db.Column(db.Integer, primary_key=True)
    read_id = db.Column(db.String(36), nullable=False, unique=True)
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"), nullable=False, index=True)
    reader_token_id = db.Column(db.Integer, db.ForeignKey("reader_token.id"))
    reader = db.Column(db.String(64))
    id_number = db.Column(db.String(18), nullable=False, index=True)
    read_at = db.Column(db.DateTime, nullable=False)
    received_at = db.Column(db.DateTime, nullable=False, default=now)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id", ondelete="SET NULL"), index=True)
    verdict = db.Column(db.String(32))
    card_type = db.Column(db.String(24))
    card_valid_from = db.Column(db.Date)
    card_valid_until = db.Column(db.Date)
    card_long_term = db.Column(db.Boolean)  # 长期: valid without an end date
    name_mismatch = db.Column(db.Boolean)  # the card's name differed from the person's (the name is not kept)

    station = db.relationship("Station")
    person = db.relationship("Person")

    @property
    def card_expired(self):
        """Whether the card's validity had ended on the day it was read (证件已过期)."""
        return self.card_valid_until is not None and self.card_valid_until < self.read_at.date()
