"""留观: after a dose the person stays on site for a while (30 minutes by default) and is watched.

《中华人民共和国疫苗管理法》 art. 45 and the 《预防接种工作规范》 ask the vaccination unit to
keep the vaccinated person under on-site observation for 30 minutes; the duration is the
setting OBSERVATION_MINUTES. One row per given dose, opened in the transaction of the
vaccination record and ended once: 留观结束, early leave (with the reason), or 异常反应.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import CheckConstraint, Index, select, update

from extensions import db
from models.audit import record_event
from models.base import now
from models.errors import DomainError
from models.user import STATION

COMPLETED, LEFT_EARLY, REACTION = "completed", "left_early", "reaction"
OUTCOMES = (COMPLETED, LEFT_EARLY, REACTION)  # worded in admin_views/labels.py
DEFAULT_MINUTES = 30


class ObservationError(DomainError):
    """An observation that cannot be ended as asked; its code is worded by admin_views/labels.py."""


class Observation(db.Model):
    __tablename__ = "observation"
    id = db.Column(db.Integer, primary_key=True)
    vaccination_id = db.Column(db.Integer, db.ForeignKey("vaccination.id", ondelete="CASCADE"), nullable=False,
                               unique=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True)
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"), nullable=False)
    started_at = db.Column(db.DateTime, nullable=False)
    due_at = db.Column(db.DateTime, nullable=False)
    ended_at = db.Column(db.DateTime)
    outcome = db.Column(db.String(16))
    reason = db.Column(db.String(200))
    ended_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))

    person = db.relationship("Person")
    vaccination = db.relationship("Vaccination")

    __table_args__ = (
        CheckConstraint("outcome IS NULL OR outcome IN ('completed', 'left_early', 'reaction')", name="outcome_known"),
        CheckConstraint("(ended_at IS NULL) = (outcome IS NULL)", name="ended_with_outcome"),
        # The board: who is still being observed at a station, soonest due first.
        Index("ix_observation_open", "station_id", "due_at", postgresql_where=db.text("ended_at IS NULL"),
              sqlite_where=db.text("ended_at IS NULL")),
    )


def observation_minutes():
    return int(current_app.config.get("OBSERVATION_MINUTES", DEFAULT_MINUTES))


def start_observation(vaccination, at=None):
    """Open the observation of a given dose (called in the vaccination's own transaction)."""
    started = at or vaccination.at or now()
    row = Observation(vaccination_id=vaccination.id, person_id=vaccination.person_id,
                      station_id=vaccination.station_id, started_at=started,
                      due_at=started + timedelta(minutes=observation_minutes()))
    db.session.add(row)
    db.session.flush()
    return row


def open_observations(station_id):
    """Who is under observation at the station now, the least time left first."""
    return db.session.execute(
        select(Observation).where(Observation.station_id == station_id, Observation.ended_at.is_(None))
        .order_by(Observation.due_at, Observation.id)
    ).scalars().all()


def end_observation(actor, observation_id, outcome, reason=None):
    """End one observation of the actor's station (conditional: only an open one); return it."""
    if getattr(actor, "role", None) != STATION or actor.station_id is None:
        raise ObservationError("observation_station_only")
    if outcome not in OUTCOMES:
        raise ObservationError("observation_outcome_unknown")
    reason = (reason or "").strip()
    if outcome == LEFT_EARLY and not reason:
        raise ObservationError("left_early_reason_required")
    if len(reason) > 200:
        raise ObservationError("observation_reason_too_long", most=200)
    at = now()
    changed = db.session.execute(
        update(Observation)
        .where(Observation.id == observation_id, Observation.station_id == actor.station_id,
               Observation.ended_at.is_(None))
        .values(ended_at=at, outcome=outcome, reason=reason or None, ended_by_id=actor.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise ObservationError("observation_not_open")
    row = db.session.get(Observation, observation_id)
    db.session.refresh(row)
    if outcome == LEFT_EARLY and row.due_at <= at:
        # Left after the full time: that is an ordinary end, whatever was pressed.
        row.outcome, row.reason = COMPLETED, None
    record_event(actor, f"observation_{row.outcome}", target_id=row.person_id, reason=row.reason,
                 detail=f"observation={row.id} vaccination={row.vaccination_id}")
    db.session.flush()
    return row
