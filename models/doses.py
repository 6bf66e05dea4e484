"""One vaccination record per dose attempt (接种记录), written by the workflow, never edited in place.

A row records what happened at the exit desk: the dose given (`given`) or not
(`not_given`, with the reason). Only `state` ever changes: a correction writes a new
row that `supersedes_id` the old one and turns the old one `corrected`; a cancelled
record becomes `cancelled`. Certificates are derived from `given` + `valid` rows.
"""

from sqlalchemy import CheckConstraint, Index, select
from sqlalchemy.orm import deferred

from extensions import db
from models.base import now

GIVEN = "given"
NOT_GIVEN = "not_given"
OUTCOMES = (GIVEN, NOT_GIVEN)

VALID = "valid"
CORRECTED = "corrected"
CANCELLED = "cancelled"
STATES = (VALID, CORRECTED, CANCELLED)


class Vaccination(db.Model):
    __tablename__ = "vaccination"
    id = db.Column(db.Integer, primary_key=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True)
    dose_number = db.Column(db.Integer, nullable=False)
    is_booster = db.Column(db.Boolean, nullable=False, default=False)
    product_id = db.Column(db.Integer, db.ForeignKey("vaccine_product.id"))
    # The product's name as recorded (kept for records migrated from free text that match no product).
    product_name = db.Column(db.String(100))
    lot_id = db.Column(db.Integer, db.ForeignKey("vaccine_lot.id"))
    lot_number = db.Column(db.String(50))
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"))
    slot_id = db.Column(db.Integer, db.ForeignKey("appointment_slot.id"))
    outcome = db.Column(db.String(16), nullable=False)
    reason = db.Column(db.String(200))
    at = db.Column(db.DateTime, nullable=False, default=now)
    vaccinator_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    signature_png = deferred(db.Column(db.LargeBinary))
    event_id = db.Column(db.Integer, db.ForeignKey("audit_event.id"), index=True)
    state = db.Column(db.String(16), nullable=False, default=VALID)
    supersedes_id = db.Column(db.Integer, db.ForeignKey("vaccination.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=now)

    person = db.relationship("Person", backref=db.backref("vaccinations", lazy="dynamic"))
    product = db.relationship("VaccineProduct")
    station = db.relationship("Station")

    __table_args__ = (
        CheckConstraint("outcome IN ('given', 'not_given')", name="outcome_known"),
        CheckConstraint("state IN ('valid', 'corrected', 'cancelled')", name="state_known"),
        CheckConstraint("dose_number >= 1", name="dose_number_positive"),
        Index("ix_vaccination_station_at", "station_id", "at"),
    )


# ---------------------------------------------------------------- reading, for exports

def dose_slots(primary_doses):
    """The dose columns an export gives each person: (1, False) … (primary_doses, False), then the booster."""
    return [*((n, False) for n in range(1, max(primary_doses, 1) + 1)), (None, True)]


def given_doses(person_ids):
    """{person id: {(dose number, False) or (None, True): the latest valid given record}} for a batch of people.

    One indexed query per batch; a correction's superseded record is not `valid`, so it never shows.
    """
    if not person_ids:
        return {}
    records = db.session.execute(
        select(Vaccination.person_id, Vaccination.dose_number, Vaccination.is_booster, Vaccination.at,
               Vaccination.product_name, Vaccination.lot_number, Vaccination.station_id)
        .where(Vaccination.person_id.in_(person_ids), Vaccination.outcome == GIVEN, Vaccination.state == VALID)
        .order_by(Vaccination.at, Vaccination.id)
    ).all()
    found = {}
    for record in records:
        key = (None, True) if record.is_booster else (record.dose_number, False)
        found.setdefault(record.person_id, {})[key] = record  # later records win: ordered by time
    return found
