"""本人取消预约: the appointments people cancelled themselves in 我的接种, and why.

The center sees every one, a station those of its own people; the list reads the audit
trail (the cancel_appointment events of the actor 本人, one history row per person), so
it shows exactly what the person wrote, newest first.
"""

from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import select

from admin_views.base import RoleAccessMixin, int_arg, mask_id_number
from admin_views.labels import STATUS_LABELS
from extensions import db
from models.audit import AuditEvent, PersonEvent
from models.org import Enterprise, Station
from models.person import Person
from models.user import CENTER, STATION
from models.workflow import SELF, person_scope

PAGE_SIZE = 100


def self_cancellations(actor, page):
    """The people in the actor's scope who cancelled their own appointment, newest first."""
    return db.session.execute(
        select(AuditEvent.at, AuditEvent.reason, Person.id, Person.name, Person.id_number, Person.status,
               Enterprise.name.label("enterprise"), Station.name.label("station"))
        .join(PersonEvent, PersonEvent.event_id == AuditEvent.id)
        .join(Person, Person.id == PersonEvent.person_id)
        .join(Enterprise, Enterprise.id == Person.enterprise_id)
        .outerjoin(Station, Station.id == Person.station_id)
        .where(AuditEvent.action == "cancel_appointment", AuditEvent.role == SELF, person_scope(actor))
        .order_by(AuditEvent.id.desc())
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    ).all()


class SelfCancellationView(RoleAccessMixin, BaseView):
    """本人取消预约 of the center (everyone) or of a station (its own people)."""

    def __init__(self, role, **kwargs):
        self.role = role
        super().__init__(**kwargs)

    @expose("/")
    def index(self):
        page = int_arg("page", high=10000) or 1
        rows = self_cancellations(current_user, page)
        return self.render("admin/self_cancellations.html", rows=rows[:PAGE_SIZE], page=page,
                           has_next=len(rows) > PAGE_SIZE, status_labels=STATUS_LABELS, mask=mask_id_number)


def center_view():
    return SelfCancellationView(CENTER, name="本人取消预约", endpoint="center_self_cancellations",
                                url="self-cancellations")


def station_view():
    return SelfCancellationView(STATION, name="本人取消预约", endpoint="station_self_cancellations",
                                url="/station/self-cancellations")
