"""A realistic district, generated fast: set-based inserts (COPY on PostgreSQL), valid identifiers.

The district has every review department and street of Binhai (models/demo.py lists),
50 stations with four windows a day over a month, up to 10,000 enterprises of skewed
sizes with valid credit codes and their accounts, and persons with valid, unique ID
numbers spread over every status. A person's stamps, station, slot and last audit event
agree with their status; slots' `booked` equals the people in them; person_event holds
one row per move each person made, written with one INSERT ... SELECT per move.

The campaign is in its second-dose phase: most people have had both doses of the
two-dose inactivated vaccine (21-56 days apart), some a booster 200 days after, some wait
for dose 2 (待续种, their window opening in the coming weeks); one 接种记录 per dose given
(2,000,000 persons -> about 4,000,000 records) over 20 lots, counted by the dose triggers.
"""

import itertools
import math
import random
import secrets
import time
from bisect import bisect
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, text

from extensions import db
from models import counters, dose_counts, lot_counts
from models.audit import AuditEvent
from models.base import now
from models.demo import (
    COMPANY_KINDS,
    COMPANY_WORDS,
    DEMO_PASSWORD,
    GIVEN,
    INDUSTRY_DEPARTMENTS,
    LOCAL_REGIONS,
    STREETS,
    SURNAMES,
    WINDOWS,
    ZONE_CHILDREN,
    ZONES,
    make_credit_code,
)
from models.doses import Vaccination
from models.identity import id_check_char
from models.lots import VaccineLot
from models.options import PERSON_CATEGORY, option_labels, seed_default_options
from models.org import INDUSTRY, TERRITORY, AppointmentSlot, Enterprise, ReviewDepartment, Station, Territory
from models.person import Person
from models.status import (
    ALLOCATED,
    APPOINTED,
    CENTER_APPROVED,
    CHECKED_IN,
    DEPT_APPROVED,
    DUE_NEXT,
    NOT_VACCINATED,
    REGISTERED,
    SUBMITTED,
    VACCINATED,
    reached,
)
from models.user import ADMIN, CENTER, ENTERPRISE, REVIEW, STATION, User
from models.vaccines import seed_vaccine_products

# Share of the persons in each status: a campaign in its second-dose phase. Each earlier status
# still holds more than a 50,000-person batch at 2,000,000 persons.
STATUS_SHARES = {
    REGISTERED: 0.02, SUBMITTED: 0.02, DEPT_APPROVED: 0.03, CENTER_APPROVED: 0.03, ALLOCATED: 0.02,
    APPOINTED: 0.015, CHECKED_IN: 0.005, DUE_NEXT: 0.08, VACCINATED: 0.77, NOT_VACCINATED: 0.01,
}
BOOSTED_SHARE = 0.45  # of the vaccinated: had a booster too (three records)
DOSE_GAP_DAYS, BOOSTER_GAP_DAYS = 28, 200
DOSE2_INTERVAL = (21, 56)  # the product's dose-2 window, days after dose 1 (models/vaccines.py)
LOTS = 20
STATUS_ORDER = list(STATUS_SHARES)
STATUS_WEIGHTS = list(itertools.accumulate(STATUS_SHARES.values()))
RETURNED_SHARE = 0.1  # of the registered: sent back by their department, with a reason
RETURN_REASON = "身份证号与姓名不符，请核对后重新提交"
NOT_VACCINATED_REASON = "发热(体温≥37.3℃)"
VACCINE = ("新冠病毒灭活疫苗(Vero细胞)", "202611A")
BIG_SHARE = 0.1  # the first enterprise holds a tenth of the persons (100,000 of 1,000,000)
STATION_COUNT = 50
MAX_ENTERPRISES = 10_000
PAST_DAYS, FUTURE_DAYS = 14, 15
CHUNK = 50_000
# A throwaway file being built: no fsync, a big page cache (SQLite only). The journal stays WAL, as
# every connection of the app opens it (extensions.py): leaving WAL needs the file to itself, and
# other connections (a served app, the pool) may hold it.
BULK_TABLES = ("person", "person_event", "vaccination")  # loaded without their indexes and triggers (SQLite)
BUILD_PRAGMAS = ("PRAGMA synchronous = OFF", "PRAGMA cache_size = -500000")

# The moves a person makes, each its own audit event: (key, action, from, to, stage stamped, actor kind).
MOVES = (
    ("submit", "submit", REGISTERED, SUBMITTED, "submitted", "enterprise"),
    ("dept_approve", "dept_approve", SUBMITTED, DEPT_APPROVED, "dept_approved", "department"),
    ("center_approve", "center_approve", DEPT_APPROVED, CENTER_APPROVED, "center_approved", "center"),
    ("allocate", "allocate", CENTER_APPROVED, ALLOCATED, "allocated", "center"),
    ("appoint", "appoint", ALLOCATED, APPOINTED, "appointed", "center"),
    ("check_in", "check_in", APPOINTED, CHECKED_IN, "checked_in", "station"),
)
NOT_VACCINATED_MOVE = ("mark_not_vaccinated", "mark_not_vaccinated", CHECKED_IN, NOT_VACCINATED, "finished", "station")
RETURN_MOVE = ("dept_return", "dept_return", SUBMITTED, REGISTERED, None, "department")
# After dose 1: the moves of each further dose (doses given -> the moves that led to it).
DOSE_MOVES = {
    1: (("vaccinate_1", "vaccinate", CHECKED_IN, DUE_NEXT, "finished", "station"),),
    2: (("appoint_2", "appoint", DUE_NEXT, APPOINTED, "appointed", "center"),
        ("check_in_2", "check_in", APPOINTED, CHECKED_IN, "checked_in", "station"),
        ("vaccinate_2", "vaccinate", CHECKED_IN, VACCINATED, "finished", "station")),
    3: (("open_booster", "open_booster", VACCINATED, DUE_NEXT, None, "center"),
        ("appoint_3", "appoint", DUE_NEXT, APPOINTED, "appointed", "center"),
        ("check_in_3", "check_in", APPOINTED, CHECKED_IN, "checked_in", "station"),
        ("vaccinate_3", "vaccinate", CHECKED_IN, VACCINATED, "finished", "station")),
}
ALL_MOVES = MOVES + (NOT_VACCINATED_MOVE, RETURN_MOVE) + tuple(m for ms in DOSE_MOVES.values() for m in ms)
# Office moves between two doses: made a day or two after the dose before, not before the first window.
LATER_OFFICE_MOVES = ("appoint_2", "open_booster", "appoint_3")
STAGE_RANK = {status: rank for rank, status in enumerate(
    (REGISTERED, SUBMITTED, DEPT_APPROVED, CENTER_APPROVED, ALLOCATED, APPOINTED, CHECKED_IN))}

PERSON_COLUMNS = (
    "enterprise_id", "name", "gender", "id_number", "age", "phone", "category", "lives_in_binhai", "community",
    "remarks", "source", "consent_at", "policy_version", "status", "previous_status", "return_reason",
    "station_id", "slot_id", "previous_slot_id", "created_at",
    "submitted_at", "submitted_by_id", "dept_approved_at", "dept_approved_by_id",
    "center_approved_at", "center_approved_by_id", "allocated_at", "allocated_by_id",
    "appointed_at", "appointed_by_id", "checked_in_at", "checked_in_by_id", "finished_at", "finished_by_id",
    "not_vaccinated_reason", "vaccine_product", "vaccine_lot", "last_event_id", "version",
    "product_id", "dose_number", "doses_given", "next_dose_earliest", "next_dose_latest",
)


def doses_of(status, rng):
    """Doses a person in `status` has had: 1 waiting for dose 2, 2 or 3 (booster) when vaccinated."""
    if status == DUE_NEXT:
        return 1
    if status == VACCINATED:
        return 3 if rng.random() < BOOSTED_SHARE else 2
    return 0


def moves_of(status, doses=0, returned=False):
    """The moves a person in `status` with `doses` doses made to get there, in order."""
    if returned:
        return (MOVES[0], RETURN_MOVE)
    if status == NOT_VACCINATED:
        return MOVES + (NOT_VACCINATED_MOVE,)
    if doses:
        return MOVES + tuple(m for dose in range(1, doses + 1) for m in DOSE_MOVES[dose])
    return MOVES[:STAGE_RANK[status]]


class IdNumbers:
    """Unique, valid resident ID numbers: serial i maps one-to-one onto (region, birth day, sequence)."""

    def __init__(self, today, seed=2026):
        first_birth = today - timedelta(days=64 * 365)
        self.days = 46 * 365
        births = [first_birth + timedelta(days=d) for d in range(self.days)]
        self.birth_text = [f"{b:%Y%m%d}" for b in births]
        self.ages = [today.year - b.year - ((today.month, today.day) < (b.month, b.day)) for b in births]
        self.space = len(LOCAL_REGIONS) * self.days * 1000
        self.step = 7_368_787  # a prime: i -> i * step mod space is a bijection
        assert math.gcd(self.step, self.space) == 1
        self.offset = random.Random(seed).randrange(self.space)

    def __call__(self, serial):
        """Return (id number, age, gender) of the serial-th person."""
        key = (serial * self.step + self.offset) % self.space
        key, region = divmod(key, len(LOCAL_REGIONS))
        sequence, day = divmod(key, self.days)
        first17 = f"{LOCAL_REGIONS[region]}{self.birth_text[day]}{sequence:03d}"
        return first17 + id_check_char(first17), self.ages[day], "M" if sequence % 2 else "F"


class Dataset:
    """Generate the district into the current app's database; `run()` returns a summary."""

    def __init__(self, persons, seed=2026, log=print):
        self.persons = persons
        self.enterprises = min(MAX_ENTERPRISES, max(20, persons // 100))
        self.rng = random.Random(seed)
        self.seed = seed
        self.log = log
        self.today = now().date()
        self.now = now()
        self.is_postgres = db.engine.dialect.name == "postgresql"

    def run(self):
        with self._phase("organisations"):
            seed_default_options()
            territories = self._territories()
            departments = self._departments()
            stations = self._stations(territories)
            enterprise_rows = self._enterprises(departments, territories)
            self.users = self._users(departments, stations, enterprise_rows)
            slots = self._slots(stations)
            events = self._events()
            self.product, first_lot = self._vaccine()
            db.session.commit()
        self.log(f"organisations: {len(departments)} departments, {len(stations)} stations, "
                 f"{len(enterprise_rows)} enterprises, {sum(len(s) for s in slots.values())} slots")
        with self._bulk_load():
            with self._phase("persons"):
                self._persons(enterprise_rows, stations, slots, events)
            with self._phase("history"):
                self._history(events)
            with self._phase("records"):
                records = self._records(events, first_lot)
            with self._phase("slot bookings"):
                self._book_slots()
                db.session.commit()
        with self._phase("statistics"):
            self._analyze()
        return {"records": records, "departments": len(departments), "stations": len(stations),
                "enterprises": len(enterprise_rows), "slots": sum(len(s) for s in slots.values()),
                "persons": self.persons}

    @contextmanager
    def _bulk_load(self):
        """SQLite: load the bulk tables bare, then count, index and arm them as the schema has them.

        SQLite's row triggers would run a dozen counter upserts per person and record, and
        every index would take millions of scattered inserts: the bulk rows go in without
        both, the counters are recounted set-based (the numbers the triggers give, as
        `flask data check` verifies), then the indexes and triggers are made again from
        the schema's own SQL. The file is journal-less and unsynced while it is built; the
        connections are dropped afterwards, so the timed part runs on the app's settings.
        PostgreSQL loads by COPY through statement triggers: nothing to do there.
        """
        if self.is_postgres:
            yield
            return
        schema = self._strip_bulk_tables()
        try:
            yield
            with self._phase("counters"):
                counters.rebuild()
                dose_counts.rebuild()
                lot_counts.rebuild()
                db.session.commit()
        finally:  # the schema comes back whole even from a failed build
            db.session.rollback()
            with self._phase("indexes and triggers"):
                self._restore(schema)
            db.session.remove()
            db.engine.dispose()

    def _strip_bulk_tables(self):
        """Drop the bulk tables' indexes and triggers on a build connection; return their SQL."""
        db.session.commit()
        connection = db.session.connection()
        schema = connection.execute(text(
            f"SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL "
            f"AND tbl_name IN {BULK_TABLES} ORDER BY type, name")).all()
        for statement in BUILD_PRAGMAS + tuple(f"DROP {kind.upper()} {name}" for kind, name, _ in schema):
            connection.execute(text(statement))
        db.session.commit()
        return schema

    def _restore(self, schema):
        """Indexes first (the triggers' lookups use them), then the triggers, each from its own SQL."""
        connection = db.session.connection()
        for kind in ("index", "trigger"):
            for _, _, sql in (row for row in schema if row.type == kind):
                connection.exec_driver_sql(sql)
        db.session.commit()

    @contextmanager
    def _phase(self, name):
        """Log how long a phase of the build took (where a slow build spends its time)."""
        started = time.perf_counter()
        yield
        self.log(f"phase {name}: {time.perf_counter() - started:.1f} s")

    # ------------------------------------------------------------ organisations

    def _territories(self):
        rows = [{"name": name, "sort_order": order} for order, name in enumerate(STREETS + ZONES)]
        db.session.execute(insert(Territory), rows)
        return dict(db.session.execute(select(Territory.name, Territory.id)).all())

    def _departments(self):
        parents = [(name, INDUSTRY, order) for order, name in enumerate(INDUSTRY_DEPARTMENTS)]
        parents += [(name, TERRITORY, 100 + order) for order, name in enumerate(STREETS + ZONES)]
        db.session.execute(insert(ReviewDepartment), [
            {"name": name, "dimension": dimension, "sort_order": order,
             "contact_phone": f"022-6530{order:04d}"} for name, dimension, order in parents
        ])
        ids = dict(db.session.execute(select(ReviewDepartment.name, ReviewDepartment.id)).all())
        children = [(child, INDUSTRY, ids[parent]) for parent, kids in INDUSTRY_DEPARTMENTS.items() for child in kids]
        children += [(f"{zone}{child}", TERRITORY, ids[zone]) for zone in ZONES for child in ZONE_CHILDREN]
        db.session.execute(insert(ReviewDepartment), [
            {"name": name, "dimension": dimension, "parent_id": parent, "sort_order": 200}
            for name, dimension, parent in children
        ])
        return list(db.session.execute(select(ReviewDepartment.id).order_by(ReviewDepartment.id)).scalars())

    def _stations(self, territories):
        streets = STREETS + ZONES
        rows = []
        for index in range(STATION_COUNT):
            street = streets[index % len(streets)]
            kind = "社区卫生服务中心接种点" if index < len(streets) else "临时接种点"
            rows.append({"name": f"{street}{kind}", "address": f"滨海新区{street}", "territory_id": territories[street],
                         "contact_phone": f"022-2532{index:04d}", "active": True,
                         "default_vaccine_product": VACCINE[0], "default_vaccine_lot": VACCINE[1]})
        db.session.execute(insert(Station), rows)
        return list(db.session.execute(select(Station.id).order_by(Station.id)).scalars())

    def _enterprises(self, departments, territories):
        rng = self.rng
        names = [f"{prefix}{a}{b}{kind}" for prefix in ("天津", "天津滨海", "天津市")
                 for a, b in itertools.permutations(COMPANY_WORDS, 2) for kind in COMPANY_KINDS]
        rng.shuffle(names)
        codes, territory_ids = set(), list(territories.values())
        rows = []
        for index in range(self.enterprises):
            code = make_credit_code(rng)
            while code in codes:
                code = make_credit_code(rng)
            codes.add(code)
            rows.append({
                "name": names[index % len(names)], "credit_code": code,
                "department_id": rng.choice(departments), "territory_id": rng.choice(territory_ids),
                "address": f"滨海新区{rng.choice(STREETS)}{rng.randint(1, 999)}号",
                "contact_name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                "phone": f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                "qr_token": secrets.token_urlsafe(24), "created_at": self.now - timedelta(days=30),
            })
        for start in range(0, len(rows), CHUNK):
            db.session.execute(insert(Enterprise), rows[start:start + CHUNK])
        return db.session.execute(
            select(Enterprise.id, Enterprise.department_id, Enterprise.credit_code).order_by(Enterprise.id)
        ).all()

    def _users(self, departments, stations, enterprise_rows):
        user = User()
        user.set_password(DEMO_PASSWORD)
        common = {"password_hash": user.password_hash, "active": True, "failed_logins": 0,
                  "must_change_password": False, "created_at": self.now - timedelta(days=30)}
        rows = [{"username": "admin", "role": ADMIN, "display_name": "系统管理员", **common},
                {"username": "center", "role": CENTER, "display_name": "滨海新区疫情防控指挥中心", **common}]
        rows += [{"username": f"dept{i:03d}", "role": REVIEW, "department_id": d, **common}
                 for i, d in enumerate(departments, start=1)]
        rows += [{"username": f"station{i:02d}", "role": STATION, "station_id": s, **common}
                 for i, s in enumerate(stations, start=1)]
        rows += [{"username": code, "role": ENTERPRISE, "enterprise_id": e, **common} for e, _, code in enterprise_rows]
        for start in range(0, len(rows), CHUNK):
            db.session.execute(insert(User), rows[start:start + CHUNK])
        users = db.session.execute(
            select(User.id, User.role, User.enterprise_id, User.department_id, User.station_id)
        ).all()
        return {
            "center": next(u.id for u in users if u.role == CENTER),
            "enterprise": {u.enterprise_id: u.id for u in users if u.role == ENTERPRISE},
            "department": {u.department_id: u.id for u in users if u.role == REVIEW},
            "station": {u.station_id: u.id for u in users if u.role == STATION},
        }

    def _slots(self, stations):
        """Four windows a day from PAST_DAYS ago to FUTURE_DAYS ahead; capacity is set after booking."""
        rows = []
        for station in stations:
            for offset in range(-PAST_DAYS, FUTURE_DAYS + 1):
                day = self.today + timedelta(days=offset)
                for begins, ends in WINDOWS:
                    rows.append({"station_id": station, "starts_at": datetime.combine(day, begins),
                                 "ends_at": datetime.combine(day, ends), "capacity": 0, "booked": 0})
        db.session.execute(insert(AppointmentSlot), rows)
        slots = {}
        for slot_id, station, starts in db.session.execute(
            select(AppointmentSlot.id, AppointmentSlot.station_id, AppointmentSlot.starts_at)
            .order_by(AppointmentSlot.station_id, AppointmentSlot.starts_at)
        ):
            day = starts.date()
            when = "past" if day < self.today else "today" if day == self.today else "future"
            slots.setdefault((station, when), []).append((slot_id, starts))
        return slots

    def _events(self):
        """One audit event per move, as the campaign's history; return {move key: event id}."""
        center = self.users["center"]
        rows = [{"user_id": center, "username": "bench", "role": CENTER, "action": action,
                 "from_status": "", "to_status": "", "requested": 0, "changed": 0, "target_type": "person",
                 "at": self.now - timedelta(days=1), "detail": f"bench dataset {key}"}
                for key, action, *_ in ALL_MOVES]
        db.session.execute(insert(AuditEvent), rows)
        prefix = "bench dataset "
        return {detail[len(prefix):]: event_id for detail, event_id in db.session.execute(
            select(AuditEvent.detail, AuditEvent.id).where(AuditEvent.detail.like(prefix + "%")))}

    def _vaccine(self):
        """The two-dose inactivated vaccine everyone here gets, and its LOTS lots; return (product, first lot id)."""
        product = seed_vaccine_products()[VACCINE[0]]
        lots = [VaccineLot(product_id=product.id, manufacturer=product.manufacturer or "bench",
                           lot_number=f"2026{i + 1:02d}A", expiry_date=self.today + timedelta(days=365),
                           doses_per_package=1) for i in range(LOTS)]
        db.session.add_all(lots)
        db.session.flush()
        return product, min(lot.id for lot in lots)

    # ------------------------------------------------------------ persons

    def _persons(self, enterprise_rows, stations, slots, events):
        self.ids = IdNumbers(self.today, self.seed)
        self.categories = option_labels(PERSON_CATEGORY) or ["企业职工"]
        self.communities = [s + k for s in STREETS for k in ("花园", "家园", "新村", "小区", "公寓")]
        # Skewed enterprise sizes: one group of BIG_SHARE of everyone (what the export measures),
        # a few big employers, a long tail of small ones.
        self.enterprise_of = [(e, dept) for e, dept, _ in enterprise_rows]
        weights = [1 / (rank + 1) ** 0.7 for rank in range(len(enterprise_rows))]
        weights[0] = sum(weights[1:]) * BIG_SHARE / (1 - BIG_SHARE)
        self.size_weights = list(itertools.accumulate(weights))
        self.stations = stations
        self.station_weights = list(itertools.accumulate(self.rng.uniform(0.5, 1.5) for _ in stations))
        self.slot_cursor = {key: itertools.cycle(values) for key, values in slots.items()}
        self.events = events
        total = self.persons
        for start in range(0, total, CHUNK):
            batch = [self._person_row(serial) for serial in range(start, min(start + CHUNK, total))]
            self._load_persons(batch)
            db.session.commit()
            self.log(f"persons: {start + len(batch):,} / {total:,}")

    def _person_row(self, serial):
        """One person, as a tuple of PERSON_COLUMNS, consistent with their status and doses."""
        rng, users = self.rng, self.users
        number, age, gender = self.ids(serial)
        status = STATUS_ORDER[bisect(STATUS_WEIGHTS, rng.random() * STATUS_WEIGHTS[-1])]
        enterprise, department = self.enterprise_of[bisect(self.size_weights, rng.random() * self.size_weights[-1])]
        returned = status == REGISTERED and rng.random() < RETURNED_SHARE
        doses = doses_of(status, rng)
        row = {
            "enterprise_id": enterprise, "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            "gender": gender, "id_number": number, "age": age,
            "phone": f"1{rng.choice('3578')}{rng.randrange(10 ** 9):09d}",
            "category": rng.choice(self.categories), "lives_in_binhai": rng.random() < 0.9,
            "community": rng.choice(self.communities), "remarks": "", "source": "qr",
            "policy_version": "2026-01", "status": status, "version": 1, "dose_number": 1, "doses_given": 0,
        }
        actors = {"enterprise": users["enterprise"][enterprise], "department": users["department"][department],
                  "center": users["center"]}
        starts = None
        if status not in (REGISTERED, SUBMITTED, DEPT_APPROVED, CENTER_APPROVED):
            station = self.stations[bisect(self.station_weights, rng.random() * self.station_weights[-1])]
            row["station_id"] = station
            actors["station"] = users["station"][station]
            if status != ALLOCATED:
                when = {APPOINTED: "future", CHECKED_IN: "today"}.get(status, "past")
                if when == "past" and rng.random() < 1 / (PAST_DAYS + 1):
                    when = "today"  # today's vaccinations so far
                row["slot_id"], starts = next(self.slot_cursor[(station, when)])
        moves = moves_of(status, doses, returned)
        self._stamp(row, moves, actors, starts, doses)
        if returned:
            row["return_reason"] = RETURN_REASON
        if status == NOT_VACCINATED:
            row["not_vaccinated_reason"] = NOT_VACCINATED_REASON
        if doses:
            self._course(row, status, doses)
        return tuple(row.get(column) for column in PERSON_COLUMNS)

    def _stamp(self, row, moves, actors, starts, doses):
        """Stage stamps, previous status and last event of the moves, in time order.

        The last window is `starts`; a dose before it was DOSE_GAP_DAYS (a booster
        BOOSTER_GAP_DAYS) earlier; the office moves end a day before the first window.
        """
        rng, events = self.rng, self.events
        gaps = {1: (), 2: (DOSE_GAP_DAYS,), 3: (BOOSTER_GAP_DAYS + DOSE_GAP_DAYS, BOOSTER_GAP_DAYS)}[max(doses, 1)]
        windows = [starts - timedelta(days=gap) for gap in gaps] + [starts] if starts else []
        office = [m for m in moves if m[4] not in ("checked_in", "finished") and m[0] not in LATER_OFFICE_MOVES]
        at = windows[0] - timedelta(days=1) if windows else self.now - timedelta(hours=rng.randint(1, 48))
        office_times = []
        for _ in office:
            office_times.append(at)
            at -= timedelta(hours=rng.randint(2, 30))
        row["created_at"] = row["consent_at"] = at
        times, window = iter(reversed(office_times)), iter(windows)
        returned = bool(moves) and moves[-1] is RETURN_MOVE
        for key, _action, source, _target, stage, actor in moves:
            if stage == "checked_in":  # in the window, and not later than now
                at = min(next(window) + timedelta(minutes=rng.randrange(80)), self.now - timedelta(minutes=45))
            elif stage == "finished":
                at += timedelta(minutes=rng.randint(20, 45))
            elif key in LATER_OFFICE_MOVES:
                at += timedelta(days=1 if key == "open_booster" else 2)
            else:
                at = next(times)
            if stage and not returned:  # a return clears the stamps of the stages it undoes
                row[f"{stage}_at"] = at
                row[f"{stage}_by_id"] = actors[actor]
            row["previous_status"] = source
            row["last_event_id"] = events[key]

    def _course(self, row, status, doses):
        """The course columns after `doses` doses of the two-dose product (as the workflow leaves them)."""
        row["product_id"] = self.product.id
        row["doses_given"], row["dose_number"] = doses, doses + 1
        row["vaccine_product"], row["vaccine_lot"] = VACCINE
        row["previous_slot_id"] = row["slot_id"]
        if status == DUE_NEXT:  # waiting for dose 2: no slot held, its window from dose 1's day
            row["slot_id"] = None
            day = row["finished_at"].date()
            row["next_dose_earliest"] = day + timedelta(days=DOSE2_INTERVAL[0])
            row["next_dose_latest"] = day + timedelta(days=DOSE2_INTERVAL[1])

    def _load_persons(self, rows):
        columns = ", ".join(PERSON_COLUMNS)
        raw = db.session.connection().connection.driver_connection
        if self.is_postgres:
            with raw.cursor() as cursor, cursor.copy(f"COPY person ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(PERSON_COLUMNS))
            raw.executemany(f"INSERT INTO person ({columns}) VALUES ({marks})", rows)

    def _history(self, events):
        """person_event: one row per move of each person, one INSERT ... SELECT per move."""
        returned = (Person.status == REGISTERED) & Person.return_reason.is_not(None)
        conditions = {
            "submit": Person.status.in_(reached(SUBMITTED)) | returned,
            "dept_return": returned,
            "dept_approve": Person.status.in_(reached(DEPT_APPROVED)),
            "center_approve": Person.status.in_(reached(CENTER_APPROVED)),
            "allocate": Person.status.in_(reached(ALLOCATED)),
            "appoint": Person.status.in_(reached(APPOINTED)),
            "check_in": Person.status.in_(reached(CHECKED_IN)),
            "mark_not_vaccinated": Person.status == NOT_VACCINATED,
        }
        for doses, moves in DOSE_MOVES.items():
            conditions.update({key: Person.doses_given >= doses for key, *_ in moves})
        moves = {m[0]: m for m in ALL_MOVES}
        for key, condition in conditions.items():
            _, _, source, target, _, _ = moves[key]
            result = db.session.execute(text(
                "INSERT INTO person_event (event_id, person_id, from_status, to_status) "
                f"SELECT :event, id, :source, :target FROM person WHERE {_sql(condition)}"
            ), {"event": events[key], "source": source, "target": target})
            db.session.execute(
                AuditEvent.__table__.update().where(AuditEvent.id == events[key])
                .values(requested=result.rowcount, changed=result.rowcount, from_status=source, to_status=target)
            )
        db.session.commit()
        self.log("history: person_event written")

    def _records(self, events, first_lot):
        """接种记录: one per dose given (and one per 未接种), one INSERT ... SELECT per dose; triggers count them."""
        gaps = {1: f"CASE p.doses_given WHEN 2 THEN {DOSE_GAP_DAYS} WHEN 3 THEN {BOOSTER_GAP_DAYS + DOSE_GAP_DAYS} "
                   "ELSE 0 END",
                2: f"CASE p.doses_given WHEN 3 THEN {BOOSTER_GAP_DAYS} ELSE 0 END", 3: "0"}
        doses = ((1, False, "p.doses_given >= 1", "vaccinate_1"), (2, False, "p.doses_given >= 2", "vaccinate_2"),
                 (3, True, "p.doses_given >= 3", "vaccinate_3"))
        for dose, booster, condition, key in doses:
            self._insert_records(dose, booster, condition, events[key], gaps[dose], first_lot, "'given'",
                                 f"CASE WHEN p.doses_given = {dose} THEN p.previous_slot_id END", "NULL")
        self._insert_records(1, False, f"p.status = '{NOT_VACCINATED}'", events["mark_not_vaccinated"], "0",
                             first_lot, "'not_given'", "p.slot_id", "p.not_vaccinated_reason")
        db.session.commit()
        count = db.session.execute(select(func.count()).select_from(Vaccination)).scalar_one()
        self.log(f"records: {count:,} 接种记录")
        return count

    def _insert_records(self, dose, booster, condition, event_id, gap, first_lot, outcome, slot, reason):
        if self.is_postgres:
            at = f"p.finished_at - ({gap}) * interval '1 day'"
        else:
            at = f"datetime(p.finished_at, '-' || ({gap}) || ' days')"
        db.session.execute(text(
            "INSERT INTO vaccination (person_id, dose_number, is_booster, product_id, product_name, lot_id, "
            "lot_number, station_id, slot_id, outcome, reason, at, vaccinator_id, event_id, state, created_at) "
            f"SELECT p.id, :dose, :booster, :product, :name, l.id, l.lot_number, p.station_id, {slot}, {outcome}, "
            f"{reason}, {at}, p.finished_by_id, :event, 'valid', {at} "
            "FROM person p JOIN vaccine_lot l ON l.id = :first + ((p.id * 3 + :dose) % :lots) "
            f"WHERE {condition}"
        ), {"dose": dose, "booster": booster, "product": self.product.id, "name": self.product.name,
            "event": event_id, "first": first_lot, "lots": LOTS})

    def _book_slots(self):
        """booked = the people in each slot (a dose given stays booked); capacity = the fullest slot plus a fifth.

        The uses are counted once, grouped, into a keyed table: a count per slot over the
        persons would scan them once per slot (no index on previous_slot_id).
        """
        db.session.execute(text("DROP TABLE IF EXISTS bench_slot_use"))
        db.session.execute(text("CREATE TABLE bench_slot_use (slot_id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        db.session.execute(text(
            "INSERT INTO bench_slot_use (slot_id, n) SELECT slot, count(*) FROM ("
            "SELECT slot_id AS slot FROM person WHERE slot_id IS NOT NULL UNION ALL "
            f"SELECT previous_slot_id FROM person WHERE status = '{DUE_NEXT}' AND previous_slot_id IS NOT NULL"
            ") AS uses GROUP BY slot"))
        fullest = db.session.execute(text("SELECT max(n) FROM bench_slot_use")).scalar() or 0
        capacity = max(int(fullest * 1.2) + 1, 10)
        db.session.execute(text(
            "UPDATE appointment_slot SET capacity = :capacity, booked = COALESCE("
            "(SELECT u.n FROM bench_slot_use u WHERE u.slot_id = appointment_slot.id), 0)"), {"capacity": capacity})
        db.session.execute(text("DROP TABLE bench_slot_use"))

    def _analyze(self):
        """Fresh statistics and visibility, as a database that autovacuum looks after has."""
        if self.is_postgres:
            connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                # Loading in chunks rewrote every counter row once per chunk; a running system
                # changes them a few at a time and autovacuum keeps them compact.
                connection.execute(text("VACUUM FULL person_status_count, station_status_count, "
                                        "vaccination_day_count, dose_count"))
                connection.execute(text("VACUUM ANALYZE"))
                # The load's gigabytes of WAL are written out now, not by a checkpoint spread over
                # the first timed minutes (needs a superuser or pg_checkpoint: else skipped).
                with suppress(Exception):
                    connection.execute(text("CHECKPOINT"))
            finally:
                connection.close()
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def _sql(condition):
    """Render a condition on Person with literal values (statuses are fixed identifiers)."""
    return str(condition.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
