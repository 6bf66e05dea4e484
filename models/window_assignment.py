"""Who goes into which window: many people into many time windows in one statement.

A phased booking (and the dose-2 places it reserves) matches people to the windows of a
station: each person may go only into the windows inside their interval, each window takes
at most its free places. People whose intervals cover the same windows form a group (a few
per booking, counted with one GROUP BY). `plan` fills the windows earliest first, each from
the open groups whose last admissible window comes soonest (earliest deadline first: no place
is left empty that someone still waiting could have taken), the people of a group by id.
`assigned` turns the plan into one select that ranks each group's people by id
(row_number) and gives rank r the window holding that group's r-th place, so the UPDATE
that books them joins it once. `lock_windows` and `add_booked` read and move the windows'
places around it.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from sqlalchemy import Integer, and_, case, func, literal, select, union_all, update

from extensions import db
from models.org import AppointmentSlot
from models.person import Person


@dataclass(frozen=True)
class Group:
    """People sharing the same admissible windows: `count` of them, windows first..last (indexes)."""

    count: int
    first: int
    last: int


@dataclass(frozen=True)
class Quota:
    """Ranks after+1 .. upto of group `key` go into window `window_id`."""

    key: tuple
    window_id: int
    after: int
    upto: int

    @property
    def size(self):
        return self.upto - self.after


def plan(groups, windows, limit=None):
    """The quotas filling `windows` [(id, free places)], earliest first, from `groups` {key: Group}.

    At most `limit` people in all. Each window takes from the groups open at it whose last
    admissible window is nearest, then whose first is, then by key.
    """
    left = {key: g.count for key, g in groups.items() if g.first <= g.last and g.count > 0}
    given = dict.fromkeys(left, 0)
    budget = sum(left.values()) if limit is None else limit
    quotas = []
    for index, (window_id, free) in enumerate(windows):
        open_here = sorted((groups[k].last, groups[k].first, k) for k in left
                           if left[k] and groups[k].first <= index <= groups[k].last)
        for _, _, key in open_here:
            take = min(free, left[key], budget)
            if take <= 0:
                break
            quotas.append(Quota(key, window_id, given[key], given[key] + take))
            given[key] += take
            left[key] -= take
            free -= take
            budget -= take
    return quotas


def index_range(days, first_day, last_day):
    """(first, last) indexes of the sorted `days` lying in [first_day, last_day]; first > last when none."""
    return bisect_left(days, first_day), bisect_right(days, last_day) - 1


def per_window(quotas):
    """{window id: people} of a plan."""
    counts = {}
    for quota in quotas:
        counts[quota.window_id] = counts.get(quota.window_id, 0) + quota.size
    return counts


def assigned(condition, keys, quotas):
    """A subquery (person_id, window_id): the people of `condition` placed by `quotas`.

    `keys` are the SQL expressions whose values make a person's group key (as `plan` got them).
    """
    names = [f"k{i}" for i in range(len(keys))]
    ranked = select(
        Person.id.label("person_id"), *(key.label(name) for key, name in zip(keys, names)),
        func.row_number().over(partition_by=list(keys), order_by=Person.id).label("rank"),
    ).where(condition).subquery("ranked")
    rows = [select(*(literal(value, key.type).label(name) for value, key, name in zip(q.key, keys, names)),
                   literal(q.window_id, Integer).label("window_id"), literal(q.after, Integer).label("after"),
                   literal(q.upto, Integer).label("upto"))
            for q in quotas]
    quota = (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("quota")
    same_group = [ranked.c[name] == quota.c[name] for name in names]
    return (select(ranked.c.person_id, quota.c.window_id)
            .join_from(ranked, quota, and_(*same_group, ranked.c.rank > quota.c.after,
                                           ranked.c.rank <= quota.c.upto))
            .subquery("assigned"))


def lock_windows(condition, *, skip_locked=False):
    """[(id, starts_at, free places)] of the windows matching `condition`, locked for this transaction.

    PostgreSQL locks the rows (FOR UPDATE) in id order, so two bookers of overlapping
    windows queue instead of deadlocking; with `skip_locked` a window another transaction
    holds is passed over instead of waited for. SQLite has one writer at a time already.
    """
    rows = db.session.execute(
        select(AppointmentSlot.id, AppointmentSlot.starts_at, AppointmentSlot.capacity - AppointmentSlot.booked)
        .where(condition).order_by(AppointmentSlot.id).with_for_update(skip_locked=skip_locked)
    ).all()
    return sorted(((r[0], r[1], max(r[2], 0)) for r in rows), key=lambda r: (r[1], r[0]))


def add_booked(counts):
    """Add {window id: n} to the windows' booked in one UPDATE (n < 0 gives places back)."""
    counts = {window_id: n for window_id, n in counts.items() if n}
    if not counts:
        return
    db.session.execute(
        update(AppointmentSlot).where(AppointmentSlot.id.in_(sorted(counts)))
        .values(booked=AppointmentSlot.booked + case(counts, value=AppointmentSlot.id, else_=0))
        .execution_options(synchronize_session=False)
    )


def lock_windows_of(people, also=()):
    """Lock, in id order, the windows the people matching `people` are booked into or hold a place in.

    `also`: windows locked with theirs in the same ascending pass (the window a 改约 or a
    booking moves them into), so no path takes a higher window before a lower one.

    Taken (on PostgreSQL) before any of those people's rows change, so two operations over
    overlapping windows queue on the first window they share instead of each holding one
    the other needs. Windows a concurrent change gave them meanwhile are locked in a second pass.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    locked = set()
    extra = set(also)
    for _ in range(2):
        held = select(Person.slot_id).where(people, Person.slot_id.is_not(None)).union(
            select(Person.reserved_slot_id).where(people, Person.reserved_slot_id.is_not(None)))
        wanted = (set(db.session.execute(held).scalars()) | extra) - locked
        extra = set()
        if not wanted:
            return
        lock_windows(AppointmentSlot.id.in_(sorted(wanted)))
        locked |= wanted
