"""The demo district's campaign, lived step by step at each step's own clock time, relative to today.

People register over the last six weeks and are submitted, approved and allocated in
four rounds; they are vaccinated in the windows of the past five weeks (a second dose
three weeks after the first, in the place reserved when dose 1 was booked), booked into
today's and the coming days' windows, and a few are checked in and waiting at the desk
right now. Every step is an operation of the real state machine run under
`clock_at(moment)`, in the order of the moments, so the audit trail, the stage stamps,
the dose records and the counters the database keeps from them agree with each other
as if users had done it on those days.
"""

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select

from extensions import db
from models.base import clock_at
from models.org import AppointmentSlot, Enterprise
from models.person import Person
from models.status import APPOINTED, CENTER_APPROVED, CHECKED_IN, DEPT_APPROVED, REGISTERED, SUBMITTED
from models.workflow import apply_transition
from services.sms import notify_persons_of_event


@dataclass(frozen=True)
class Round:
    """A wave of the campaign: registered in the three days before `day`, submitted on it, then moved on."""

    day: int  # the submission day, counted from today
    people: float  # share of the demo's persons registered for this round
    approve: float = 1.0  # share of the submitted (and not sent back) a review department approves the next day
    center: float = 1.0  # share of the first-approved the center approves the day after
    allocate: float = 1.0  # share of the approved the center allocates that afternoon
    book: float = 1.0  # share of the allocated booked into the round's days
    days: tuple = ()  # the days (from today) its people are booked into
    parity: int | None = None  # each station open every other day only: on days of this parity (shifted)


ROUNDS = (
    # Until last week each station opened every other day. The first round's second doses fall
    # in the last two weeks, today and the coming days.
    Round(-39, 0.25, days=tuple(range(-35, -14)), parity=0),
    # Open on the days the first round's second doses fall on (21 days later: the other parity).
    Round(-18, 0.30, days=tuple(range(-14, -4)), parity=1),
    # Still under way: some wait for allocation, some for a window; most of today's people.
    Round(-7, 0.27, center=0.95, allocate=0.9, book=0.9, days=tuple(range(-4, 7))),
    # Just submitted: work waiting for the review departments and the center.
    Round(-2, 0.10, approve=0.6, center=0.0),
)
LATE_REGISTRATIONS = 0.08  # registered since, not yet submitted
FIRST_DAY = ROUNDS[0].day - 4  # the district and its accounts exist from this day
FIRST_WINDOW_DAY = ROUNDS[0].days[0]
LAST_WINDOW_DAY = 6
TODAY_WEIGHT = 4  # today's windows hold four times a usual day's bookings
NO_SHOW = 0.05
RESERVED = "reserved"  # for _windows_with_people: a dose-2 place held, not a status
RETURN_REASONS = ("身份证号与姓名不符，请核对后重新提交", "人员类别填写有误，请修改后重新提交",
                  "联系电话无法接通，请核实")
NOT_VACCINATED_REASONS = ("发热(体温≥37.3℃)", "急性疾病发作期", "近期接种过其他疫苗")


def day_at(current, day, hour=0, minute=0):
    """The moment `hour:minute` on the day `day` days from the day of `current`."""
    return datetime.combine(current.date() + timedelta(days=day), time(hour)) + timedelta(minutes=minute)


PHASE_SHARES = [r.people for r in ROUNDS] + [LATE_REGISTRATIONS]  # the rounds, then "registered since"


def enterprise_phases(rng, size_rank):
    """The rounds an enterprise registers people for: the five largest every one, the next forty-five two, others one.

    Fewer rounds per enterprise is fewer submissions to replay (each is a statement or ten).
    """
    count = len(PHASE_SHARES) if size_rank < 5 else 2 if size_rank < 50 else 1
    chosen = set()
    while len(chosen) < count:
        chosen.add(rng.choices(range(len(PHASE_SHARES)), PHASE_SHARES)[0])
    return sorted(chosen)


def registration_moment(rng, current, phases):
    """When a demo person filled in the form: in the three days before one of `phases` rounds, or yesterday."""
    chosen = rng.choices(phases, [PHASE_SHARES[p] for p in phases])[0]
    if chosen < len(ROUNDS):
        start, seconds = day_at(current, ROUNDS[chosen].day - 3), 3 * 86400 - 3600
    else:
        start, seconds = day_at(current, -1), 86400 - 1
    return start + timedelta(seconds=rng.randint(0, seconds))


def run_campaign(rng, current, stations, actors):
    """Run the demo's campaign up to `current` through the state machine (actors: detached User rows)."""
    campaign = Campaign(rng, current, stations, actors)
    for campaign_round in ROUNDS:
        campaign.at(day_at(current, campaign_round.day, 8), campaign.open_round, campaign_round)
    campaign.schedule_service()
    campaign.run()


def _ids(condition):
    return list(db.session.execute(select(Person.id).where(condition).order_by(Person.id)).scalars())


def _apportion(count, weights):
    """Split `count` in proportion to `weights` (largest remainders first), as whole numbers."""
    total = sum(weights)
    if not total:
        return [0] * len(weights)
    exact = [count * w / total for w in weights]
    parts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in by_remainder[:count - sum(parts)]:
        parts[i] += 1
    return parts


def _split(items, parts):
    """Cut `items` into `parts` runs of near-equal length, the longer ones first."""
    sizes = _apportion(len(items), [1] * parts)
    cuts = list(itertools.accumulate(sizes, initial=0))
    return [items[a:b] for a, b in zip(cuts, cuts[1:])]


class Campaign:
    """The steps of the demo's campaign, kept in order of their moments and run under the clock."""

    def __init__(self, rng, current, stations, actors):
        self.rng, self.current = rng, current
        self.stations = stations
        self.center = actors["center"]
        self.enterprise_users, self.review_users = actors["enterprise"], actors["review"]
        self.station_users = actors["station"]
        self.slots = self._slots_by_day()
        self.bookings = {}  # (station id, day) -> ids to book into that day's windows
        self.marked_not_vaccinated = set()  # stations that have turned someone away
        self._steps, self._order, self._running = [], itertools.count(), None

    # ------------------------------------------------------------ the clock

    def at(self, moment, step, *args):
        """Run `step(*args)` at `moment`: never later than now, never before the step being run."""
        if moment > self.current or (self._running and moment < self._running):
            raise ValueError(f"demo step {step.__name__} at {moment} outside {self._running} .. {self.current}")
        heapq.heappush(self._steps, (moment, next(self._order), step, args))

    def run(self):
        while self._steps:
            moment, _, step, args = heapq.heappop(self._steps)
            self._running = moment
            with clock_at(moment):
                step(*args)

    def _minutes(self, low, high):
        return timedelta(minutes=self.rng.randint(low, high))

    # ------------------------------------------------------------ approval rounds

    def open_round(self, campaign_round):
        """Each enterprise submits most of whom it has registered, at its own time of the day."""
        day_start = self._running.replace(hour=9, minute=0)
        waiting = {}
        for person_id, enterprise_id in db.session.execute(
            select(Person.id, Person.enterprise_id).where(Person.status == REGISTERED,
                                                          Person.created_at < self._running).order_by(Person.id)
        ):
            waiting.setdefault(enterprise_id, []).append(person_id)
        for enterprise_id, ids in waiting.items():
            chosen = self.rng.sample(ids, round(len(ids) * 0.97)) if len(ids) > 3 else ids
            if chosen:
                self.at(day_start + self._minutes(0, 480), self.submit, enterprise_id, chosen)
        self.at(day_start + timedelta(days=1, minutes=-60), self.review_round, campaign_round)

    def submit(self, enterprise_id, ids):
        apply_transition("submit", self.enterprise_users[enterprise_id], ids=ids)

    def review_round(self, campaign_round):
        """Each review department approves what was submitted to it, and sends a few back."""
        pending = {}
        for person_id, department_id in db.session.execute(
            select(Person.id, Enterprise.department_id).join(Enterprise, Person.enterprise_id == Enterprise.id)
            .where(Person.status == SUBMITTED).order_by(Person.id)
        ):
            pending.setdefault(department_id, []).append(person_id)
        for department_id, ids in pending.items():
            self.at(self._running + self._minutes(60, 540), self.review, department_id, ids, campaign_round.approve)
        if campaign_round.center:
            self.at(self._running.replace(hour=10) + timedelta(days=1), self.center_approve, campaign_round)

    def review(self, department_id, ids, approve_share):
        actor = self.review_users[department_id]
        # About one department in eight sends some back (3% of all), in one 退回 with its reason.
        returned = set(self.rng.sample(ids, max(1, len(ids) // 4))) if self.rng.random() < 0.12 else set()
        if returned:
            apply_transition("dept_return", actor, ids=returned, reason=self.rng.choice(RETURN_REASONS))
        rest = [i for i in ids if i not in returned]
        approved = self.rng.sample(rest, round(len(rest) * approve_share))
        if approved:
            apply_transition("dept_approve", actor, ids=approved)

    def center_approve(self, campaign_round):
        waiting = _ids(Person.status == DEPT_APPROVED)
        chosen = self.rng.sample(waiting, round(len(waiting) * campaign_round.center))
        if chosen:
            apply_transition("center_approve", self.center, ids=chosen)
        self.at(self._running.replace(hour=15), self.allocate, campaign_round)

    def allocate(self, campaign_round):
        """全部分配 in ten parts, one per station; each station's part is spread over the round's days."""
        approved = _ids(Person.status == CENTER_APPROVED)
        chosen = sorted(self.rng.sample(approved, round(len(approved) * campaign_round.allocate)))
        for station, ids in zip(self.stations, _split(chosen, len(self.stations))):
            if ids:
                apply_transition("allocate", self.center, ids=ids, station=station)
            self.rng.shuffle(ids)
            self._plan_bookings(station, ids[:round(len(ids) * campaign_round.book)], campaign_round)

    def _plan_bookings(self, station, ids, campaign_round):
        index = self.stations.index(station)
        # Every other day: half of the stations giving each vaccine open on any one day.
        rank = [s.default_vaccine_product for s in self.stations[:index]].count(station.default_vaccine_product)
        parity = campaign_round.parity
        open_days = [d for d in campaign_round.days if parity is None or (d + rank) % 2 == parity]
        weights = [TODAY_WEIGHT if d == 0 else 1 for d in open_days]
        start = 0
        for day, count in zip(open_days, _apportion(len(ids), weights)):
            if count:
                self.bookings[(station.id, day)] = ids[start:start + count]
                # Booked two days ahead (the coming days' windows yesterday), after the allocation.
                moment = day_at(self.current, min(max(day - 2, day_of(self._running, self.current)), -1), 16,
                                index * 3 + self.rng.randint(0, 2))
                self.at(max(moment, self._running), self.book, station, day)
            start += count

    # ------------------------------------------------------------ booking

    def book(self, station, day):
        """预约 of the day's people: today half into the window open now, the others over the rest; one window
        another day."""
        ids = self.bookings.pop((station.id, day))
        windows = self.slots[(station.id, day)]
        if day == 0:
            active = self._active_window(windows)
            others = [w for i, w in enumerate(windows) if i != active]
            half = (len(ids) + 1) // 2
            plan = [(windows[active], ids[:half]), *zip(others, _split(ids[half:], len(others)))]
        else:
            # With the window where second doses are already booked, if any: one desk to open that day.
            busy = self._windows_with_people(windows, (APPOINTED, RESERVED))
            plan = [(next((w for w in windows if w.id in busy), None) or self.rng.choice(windows), ids)]
        for slot, part in plan:
            if part:
                result = apply_transition("appoint", self.center, ids=part, slot=slot)
                # The demo's 短信记录: the booking notices, delivered by the worker `make run` starts.
                notify_persons_of_event(result.event_id, booking_notice(station, slot), "appointment")

    def _active_window(self, windows):
        """Today's window being served now: the first not yet over, or the last one in the evening."""
        return next((i for i, w in enumerate(windows) if w.ends_at > self.current), len(windows) - 1)

    # ------------------------------------------------------------ the desk

    def schedule_service(self):
        """Open each day's desks up to today, at midnight: every window with people booked is served."""
        for day in range(FIRST_WINDOW_DAY, 1):
            self.at(day_at(self.current, day), self.open_desks, day)

    def open_desks(self, day):
        """Check in who came to each window of the day, turn one away now and then, vaccinate the others."""
        for station in self.stations:
            windows = self.slots[(station.id, day)]
            busy = self._windows_with_people(windows)
            active = self._active_window(windows) if day == 0 else None
            for index, slot in enumerate(windows):
                if slot.id not in busy:
                    continue
                arrive, served = self._minutes(5, 30), self._minutes(20, 45)
                # Today's active window keeps a queue even in the evening, when every window is over.
                if index == active:
                    self._schedule_window_being_served(station, slot, arrive)
                elif day < 0 or slot.ends_at <= self.current:
                    self.at(slot.starts_at + arrive, self.check_in, station, slot, served)

    def _windows_with_people(self, windows, statuses=(APPOINTED,)):
        """Ids of `windows` someone is booked into, or holds a reserved place in (with RESERVED)."""
        ids = [w.id for w in windows]
        held = select(Person.slot_id).where(Person.slot_id.in_(ids), Person.status.in_(statuses))
        if RESERVED in statuses:
            held = held.union(select(Person.reserved_slot_id).where(Person.reserved_slot_id.in_(ids)))
        return set(db.session.execute(held).scalars())

    def _schedule_window_being_served(self, station, slot, arrive):
        """The window open now: half its people came a while ago (half of those through, the rest waiting), half
        are still to come, for the desk to check in.

        A demo loaded before the window opens (or just after midnight) still has them, a little earlier.
        """
        midnight = day_at(self.current, 0)
        checked_in = max(midnight, min(slot.starts_at + arrive, self.current - timedelta(minutes=20)))
        served = max(checked_in, min(checked_in + timedelta(minutes=15), self.current - timedelta(minutes=1)))
        self.at(checked_in, self.check_in, station, slot, served - checked_in, True)

    def check_in(self, station, slot, served_after, leave_a_queue=False):
        appointed = _ids((Person.slot_id == slot.id) & (Person.status == APPOINTED))
        if leave_a_queue:
            came = appointed[:len(appointed) - len(appointed) // 2]
        else:
            came = [i for i in appointed if self.rng.random() >= NO_SHOW]
        if not came:
            return
        apply_transition("check_in", self.station_users[station.id], ids=came)
        if leave_a_queue:
            self.at(self._running + served_after, self.vaccinate, station, slot, len(came) // 2)
            return
        if len(came) >= 2 and (station.id not in self.marked_not_vaccinated or self.rng.random() < 0.08):
            self.at(self._running + timedelta(minutes=10), self.turn_away, station, came[-1])
        self.at(self._running + served_after, self.vaccinate, station, slot)

    def turn_away(self, station, person_id):
        self.marked_not_vaccinated.add(station.id)
        apply_transition("mark_not_vaccinated", self.station_users[station.id], ids=[person_id],
                         reason=self.rng.choice(NOT_VACCINATED_REASONS))

    def vaccinate(self, station, slot, how_many=None):
        """完成接种 of those checked in for the window (the first `how_many` of them, the others still waiting)."""
        waiting = _ids((Person.slot_id == slot.id) & (Person.status == CHECKED_IN))
        chosen = waiting if how_many is None else waiting[:how_many]
        if chosen:
            apply_transition("vaccinate", self.station_users[station.id], ids=chosen,
                             extra={"vaccine_product": station.default_vaccine_product,
                                    "vaccine_lot": station.default_vaccine_lot})

    # ------------------------------------------------------------ windows

    def _slots_by_day(self):
        """{(station id, day from today): that day's windows in order}, detached (the steps only read them)."""
        found = {}
        slots = db.session.execute(select(AppointmentSlot).order_by(AppointmentSlot.starts_at)).scalars().all()
        for slot in slots:
            day = (slot.starts_at.date() - self.current.date()).days
            found.setdefault((slot.station_id, day), []).append(slot)
            db.session.expunge(slot)
        return found


def day_of(moment, current):
    """`moment`'s day, counted from the day of `current`."""
    return (moment.date() - current.date()).days


def booking_notice(station, slot):
    return (f"【滨海新区疫苗接种】您已预约{slot.starts_at:%m月%d日 %H:%M}-{slot.ends_at:%H:%M}"
            f"在{station.name}接种，请携带身份证按时前往。")
