"""A person declared for vaccination (申报记录) and everything that happens to them."""

from sqlalchemy import CheckConstraint, Index, text
from sqlalchemy.orm import deferred

from extensions import db
from models.base import now
from models.status import ALL_STATUSES, REGISTERED


def _partial(name, *columns, present):
    """An index of the rows where `present` is set (PostgreSQL and SQLite alike)."""
    where = text(f"{present} IS NOT NULL")
    return Index(name, *columns, postgresql_where=where, sqlite_where=where)


def _stage_columns(stage):
    """Return the time and actor columns of one stage of the funnel."""
    return (
        db.Column(f"{stage}_at", db.DateTime),
        db.Column(f"{stage}_by_id", db.Integer, db.ForeignKey("user.id")),
    )


class Person(db.Model):
    __tablename__ = "person"
    id = db.Column(db.Integer, primary_key=True)
    enterprise_id = db.Column(db.Integer, db.ForeignKey("enterprise.id"), nullable=False)
    name = db.Column(db.String(50), nullable=False)
    gender = db.Column(db.String(1), nullable=False)
    id_number = db.Column(db.String(18), nullable=False, unique=True)
    age = db.Column(db.Integer, nullable=False)
    phone = db.Column(db.String(20), nullable=False)
    category = db.Column(db.String(50), nullable=False, default="")
    lives_in_binhai = db.Column(db.Boolean, nullable=False, default=True)
    community = db.Column(db.String(100), nullable=False, default="")
    remarks = db.Column(db.String(200), nullable=False, default="")
    source = db.Column(db.String(16), nullable=False, default="qr")
    consent_at = db.Column(db.DateTime)
    policy_version = db.Column(db.String(20))

    status = db.Column(db.String(20), nullable=False, default=REGISTERED)
    previous_status = db.Column(db.String(20))
    return_reason = db.Column(db.String(200))
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"))
    slot_id = db.Column(db.Integer, db.ForeignKey("appointment_slot.id"))
    previous_slot_id = db.Column(db.Integer)
    # The dose-2 window held since dose 1 was booked (products with reserve_next_dose; see
    # models/reservations.py); counted in that window's `booked` like an appointment.
    reserved_slot_id = db.Column(db.Integer, db.ForeignKey("appointment_slot.id"))

    created_at = db.Column(db.DateTime, nullable=False, default=now)
    submitted_at, submitted_by_id = _stage_columns("submitted")
    dept_approved_at, dept_approved_by_id = _stage_columns("dept_approved")
    center_approved_at, center_approved_by_id = _stage_columns("center_approved")
    allocated_at, allocated_by_id = _stage_columns("allocated")
    appointed_at, appointed_by_id = _stage_columns("appointed")
    checked_in_at, checked_in_by_id = _stage_columns("checked_in")
    finished_at, finished_by_id = _stage_columns("finished")

    not_vaccinated_reason = db.Column(db.String(200))
    # Which exit-desk nurse took this waiting person with 下一位, and when (models/exit_queue.py).
    exit_claimed_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    exit_claimed_at = db.Column(db.DateTime)
    vaccine_product = db.Column(db.String(100))
    vaccine_lot = db.Column(db.String(50))
    signature_png = deferred(db.Column(db.LargeBinary))

    # The course (see models/doses.py for the record of each dose): its product, the next
    # dose due (1 for a new record; boosters continue the numbering), that dose's window.
    product_id = db.Column(db.Integer, db.ForeignKey("vaccine_product.id"))
    dose_number = db.Column(db.Integer, nullable=False, default=1, server_default="1")
    doses_given = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    next_dose_earliest = db.Column(db.Date)
    next_dose_latest = db.Column(db.Date)

    # The id of the audit event that last changed this row: the workflow uses it to
    # write one history row per changed person with a single INSERT ... SELECT.
    last_event_id = db.Column(db.Integer, index=True)
    version = db.Column(db.Integer, nullable=False, default=1)

    enterprise = db.relationship("Enterprise", backref=db.backref("persons", lazy="dynamic"))
    station = db.relationship("Station")
    slot = db.relationship("AppointmentSlot", foreign_keys=[slot_id])
    reserved_slot = db.relationship("AppointmentSlot", foreign_keys=[reserved_slot_id])
    product = db.relationship("VaccineProduct")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in ALL_STATUSES) + ")", name="status_known"
        ),
        CheckConstraint("gender IN ('M', 'F')", name="gender_known"),
        Index("ix_person_status_id", "status", "id"),
        Index("ix_person_enterprise_status", "enterprise_id", "status"),
        # Partial where a column is empty for most people: a status change of someone
        # without a station (approval, return) then writes three index entries fewer.
        _partial("ix_person_station_status", "station_id", "status", present="station_id"),
        _partial("ix_person_slot_status", "slot_id", "status", present="slot_id"),
        _partial("ix_person_reserved_slot", "reserved_slot_id", present="reserved_slot_id"),
        # Today's check-ins per station (dashboards) without reading the whole table.
        _partial("ix_person_checked_in_at", "checked_in_at", "station_id", present="checked_in_at"),
        # The 待续种 tab: people whose next window opens in a date range.
        _partial("ix_person_next_dose_earliest", "next_dose_earliest", "station_id", present="next_dose_earliest"),
    )

    def __str__(self):
        return self.name
