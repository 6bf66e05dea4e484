"""The audit log: one event per action, one history row per person it changed."""

from extensions import db
from models.base import now


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(db.DateTime, nullable=False, default=now, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), index=True)
    username = db.Column(db.String(64))
    role = db.Column(db.String(16))
    action = db.Column(db.String(40), nullable=False, index=True)
    from_status = db.Column(db.String(100))
    to_status = db.Column(db.String(20))
    requested = db.Column(db.Integer, nullable=False, default=0)
    changed = db.Column(db.Integer, nullable=False, default=0)
    reason = db.Column(db.String(200))
    target_type = db.Column(db.String(32), nullable=False, default="person")
    target_id = db.Column(db.Integer)
    detail = db.Column(db.Text)

    user = db.relationship("User")

    @property
    def skipped(self):
        return max(self.requested - self.changed, 0)


class PersonEvent(db.Model):
    """One person's move in one audit event (which ids, from -> to)."""

    __tablename__ = "person_event"
    id = db.Column(db.Integer, primary_key=True)
    event_id = db.Column(db.Integer, db.ForeignKey("audit_event.id"), nullable=False, index=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True)
    from_status = db.Column(db.String(20))
    to_status = db.Column(db.String(20), nullable=False)

    event = db.relationship("AuditEvent")


def record_event(actor, action, *, target_type="person", target_id=None, reason=None, detail=None,
                 changed=1, requested=1):
    """Write an audit event for something other than a status change (views, edits, accounts)."""
    event = AuditEvent(
        user_id=getattr(actor, "id", None),
        username=getattr(actor, "username", None),
        role=getattr(actor, "role", None),
        action=action, target_type=target_type, target_id=target_id,
        reason=reason, detail=detail, changed=changed, requested=requested,
    )
    db.session.add(event)
    return event
