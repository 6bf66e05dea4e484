"""下一位 at the exit desks: each nurse takes the longest-waiting person no other nurse has taken.

The claim is one UPDATE whose subquery picks and locks the person (PostgreSQL: FOR UPDATE
SKIP LOCKED, so a nurse pressing at the same moment gets the next one; SQLite serialises
writers). A claim older than CLAIM_MINUTES counts as given up (a form left open, a closed
browser): the person is offered again.
"""

from datetime import timedelta

from sqlalchemy import func, or_, select, update

from extensions import db
from models.base import now
from models.person import Person
from models.status import CHECKED_IN
from models.workflow import person_scope

CLAIM_MINUTES = 10


def claim_next_person(actor, skip=None):
    """Claim for `actor` the longest-waiting person of their station not taken by another; return its id or None.

    `skip` is the person whose form the nurse leaves: passed over, and released with the
    nurse's other claims.
    """
    current = now()
    free = or_(Person.exit_claimed_by_id.is_(None), Person.exit_claimed_by_id == actor.id,
               Person.exit_claimed_at < current - timedelta(minutes=CLAIM_MINUTES))
    candidate = (select(Person.id).where(person_scope(actor), Person.status == CHECKED_IN, free)
                 .order_by(Person.checked_in_at, Person.id).limit(1).with_for_update(skip_locked=True))
    if skip is not None:
        candidate = candidate.where(Person.id != skip)
    claimed = db.session.execute(
        # The conditions again on the row itself: re-checked on its newest version after a wait.
        update(Person).where(Person.id == candidate.scalar_subquery(), Person.status == CHECKED_IN, free)
        .values(exit_claimed_by_id=actor.id, exit_claimed_at=current).returning(Person.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    db.session.execute(
        update(Person).where(person_scope(actor), Person.status == CHECKED_IN, Person.exit_claimed_by_id == actor.id,
                             Person.id != (claimed or 0))
        .values(exit_claimed_by_id=None, exit_claimed_at=None).execution_options(synchronize_session=False))
    return claimed


def others_waiting(actor, skip=None):
    """How many people of the actor's station wait, other than `skip` (taken by other nurses, when none is free)."""
    query = select(func.count()).select_from(Person).where(person_scope(actor), Person.status == CHECKED_IN)
    if skip is not None:
        query = query.where(Person.id != skip)
    return db.session.execute(query).scalar_one()
