"""A small district for the security tests: two of each unit, people in every status, one user per kind.

Enterprise A (under department X) has a person in every status; those past allocation are
at station S. Enterprise B (under Y, station T) mirrors it. The URL parameters of the
authorization matrix are filled with A's / X's / S's rows, so the users of B, Y and T
probe foreign objects. Names, ID numbers and phones of A's people are distinctive, so a
page that leaks them to a foreign user is caught by a plain substring search.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from flask import g
from sqlalchemy import insert, select

from admin_views.base import mask_id_number, mask_phone
from models import Person
from models.audit import record_event
from models.base import now
from models.identity import age_on, id_check_char
from models.org import INDUSTRY, TERRITORY
from models.reader import CardRead, ReaderToken
from models.status import (
    ALLOCATED,
    APPOINTED,
    CENTER_APPROVED,
    CHECKED_IN,
    DEPT_APPROVED,
    NOT_VACCINATED,
    REGISTERED,
    STAGE_STAMP,
    SUBMITTED,
    VACCINATED,
)

ALL_STATUSES = (REGISTERED, SUBMITTED, DEPT_APPROVED, CENTER_APPROVED, ALLOCATED, APPOINTED, CHECKED_IN,
                VACCINATED, NOT_VACCINATED)
AT_STATION = {ALLOCATED, APPOINTED, CHECKED_IN, VACCINATED, NOT_VACCINATED}
WITH_SLOT = {APPOINTED, CHECKED_IN, VACCINATED, NOT_VACCINATED}
PNG_1PX = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")

# The kinds of user, in the order the matrix probes them (the owners of the probed rows last).
ANON, ENT_A, ENT_B, DEPT_X, DEPT_Y, CENTER, STATION_S, STATION_T, ADMIN = (
    "anonymous", "enterprise A", "enterprise B", "department X", "department Y", "center", "station S",
    "station T", "admin")
USER_KINDS = (ANON, ENT_B, DEPT_Y, STATION_T, ENT_A, DEPT_X, CENTER, STATION_S, ADMIN)
# Who may see A's people at all; every other kind must never get their name, ID number or phone.
MAY_SEE_A = {ENT_A, DEPT_X, CENTER, STATION_S, ADMIN}


def id_number(region, serial, female=False):
    born = datetime(1970, 1, 1) + timedelta(days=serial * 37)
    first17 = f"{region}{born:%Y%m%d}{serial % 100:02d}{2 if female else 1}"
    return first17 + id_check_char(first17)


@dataclass
class World:
    ids: dict = field(default_factory=dict)       # name -> primary key
    users: dict = field(default_factory=dict)     # kind -> User
    secrets: list = field(default_factory=list)   # strings of A's people no foreign user may see
    a_people: list = field(default_factory=list)  # (id, status) of A's people
    reader_token: str = ""


def _people(db, enterprise, station, slot, tag, region, marker):
    rows = []
    for serial, status in enumerate(ALL_STATUSES, start=1):
        number = id_number(region, serial)
        phone = f"13{marker}{serial:08d}"[:11]
        rows.append({
            "enterprise_id": enterprise.id, "name": f"{tag}员工{serial:02d}号", "gender": "M", "id_number": number,
            "age": age_on(datetime(1970, 1, 1).date() + timedelta(days=serial * 37), now().date()),
            "phone": phone, "category": "企业职工", "status": status,
            "station_id": station.id if status in AT_STATION else None,
            "slot_id": slot.id if status in WITH_SLOT else None,
            "signature_png": PNG_1PX if status == VACCINATED else None,
            "vaccine_product": "灭活疫苗" if status == VACCINATED else None,
            "not_vaccinated_reason": "本人拒绝接种" if status == NOT_VACCINATED else None,
            "version": 1, "consent_at": now(), "policy_version": "2026-01",
            # every stage's time up to the status, as the workflow would have stamped it
            **{f"{STAGE_STAMP[reached]}_at": now() for reached in ALL_STATUSES[1:ALL_STATUSES.index(status) + 1]
               if reached in STAGE_STAMP and reached not in (VACCINATED, NOT_VACCINATED)},
            **({"finished_at": now()} if status in (VACCINATED, NOT_VACCINATED) else {}),
        })
    db.session.execute(insert(Person), rows)
    slot.booked += sum(1 for r in rows if r["slot_id"])
    db.session.flush()
    found = db.session.execute(
        select(Person.id, Person.status).where(Person.enterprise_id == enterprise.id).order_by(Person.id)).all()
    return [(pid, status) for pid, status in found], rows


def build_world(db, make_department, make_enterprise, make_station, make_slot, make_user):
    """Create the district and commit it; return the World."""
    world = World()
    dept_x = make_department("安全测试行业部门X", dimension=INDUSTRY)
    dept_y = make_department("安全测试行业部门Y", dimension=TERRITORY)
    ent_a = make_enterprise("甲安全测试有限公司", department=dept_x)
    ent_b = make_enterprise("乙安全测试有限公司", department=dept_y)
    station_s = make_station("安全测试接种点S")
    station_t = make_station("安全测试接种点T")
    tomorrow = datetime.combine(now().date() + timedelta(days=1), datetime.min.time())
    slot_s = make_slot(station_s, starts_at=tomorrow.replace(hour=9), capacity=50)
    slot_t = make_slot(station_t, starts_at=tomorrow.replace(hour=9), capacity=50)
    spare_slot_s = make_slot(station_s, starts_at=tomorrow.replace(hour=14), capacity=5)
    world.a_people, a_rows = _people(db, ent_a, station_s, slot_s, "甲", "120116", "7")
    b_people, _ = _people(db, ent_b, station_t, slot_t, "乙", "120107", "6")
    for row in a_rows:
        world.secrets += [row["name"], row["id_number"], row["phone"], mask_id_number(row["id_number"]),
                          mask_phone(row["phone"])]
    kinds = {
        ENT_A: ("enterprise", ent_a), ENT_B: ("enterprise", ent_b), DEPT_X: ("review", dept_x),
        DEPT_Y: ("review", dept_y), CENTER: ("center", None), STATION_S: ("station", station_s),
        STATION_T: ("station", station_t), ADMIN: ("admin", None),
    }
    for kind, (role, unit) in kinds.items():
        world.users[kind] = make_user(role, unit, username=f"sec_{role}_{kind[-1].lower()}")
    # Accounts that the admin-only endpoints act on (disable, reset, unlock): never used to log in.
    victim = make_user("enterprise", ent_a, username="sec_victim_a")
    token_row, world.reader_token = ReaderToken.issue(station_s, name="安全测试读卡器")
    db.session.flush()
    a_of = {status: pid for pid, status in world.a_people}
    read = CardRead(read_id="00000000-0000-4000-8000-000000000001", station_id=station_s.id,
                    reader_token_id=token_row.id, reader="desk", id_number=a_rows[6]["id_number"],
                    read_at=now(), person_id=a_of[CHECKED_IN], verdict="checked_in")
    db.session.add(read)
    g.pop("_login_user", None)
    record_event(world.users[ADMIN], "security_test_seed", target_type="person", target_id=a_of[REGISTERED])
    world.ids.update(_lot_and_dose(world.users[STATION_S], station_s, a_of[VACCINATED]))
    db.session.flush()
    world.ids.update(
        dept_x=dept_x.id, dept_y=dept_y.id, ent_a=ent_a.id, ent_b=ent_b.id, station_s=station_s.id,
        station_t=station_t.id, slot_s=slot_s.id, slot_t=slot_t.id, spare_slot_s=spare_slot_s.id,
        victim_user=victim.id, reader_token=token_row.id, card_read=read.id,
        territory=ent_a.territory_id, qr_token_a=ent_a.qr_token,
        **{f"a_{status}": pid for status, pid in a_of.items()},
        **{f"b_{status}": pid for pid, status in b_people},
    )
    db.session.commit()
    return world


def _lot_and_dose(nurse, station, person_id):
    """A lot in S's stock, A's vaccinated person given a dose of it, under 留观, with an AEFI report."""
    from models.aefi import file_report
    from models.doses import Vaccination
    from models.lots import receive_lot, trace_code_run
    from models.observation import start_observation
    from models.vaccines import seed_vaccine_products

    product = seed_vaccine_products()["新冠病毒灭活疫苗(Vero细胞)"]
    lot = receive_lot(nurse, station.id, product_id=product.id, manufacturer="安全测试生物", lot_number="SEC001",
                      expiry_date=now().date() + timedelta(days=100), doses_per_package=1, packages=5,
                      arrival_temperature="5", trace_codes=trace_code_run("81234569990000000001", 5)).lot
    at = now() - timedelta(minutes=5)
    dose = Vaccination(person_id=person_id, dose_number=1, product_id=product.id, lot_id=lot.id, lot_number="SEC001",
                       station_id=station.id, outcome="given", at=at, state="valid", created_at=at)
    from extensions import db

    db.session.add(dose)
    db.session.flush()
    observation = start_observation(dose)
    report = file_report(nurse, dose.id, symptoms=["发热"], onset_at=at, severity="general")
    return {"lot": lot.id, "vaccination_a": dose.id, "observation_a": observation.id, "aefi_a": report.id}


def snapshot(db, world=None):
    """Rows of every table (the audit log aside), or with `world` only the rows of A, X and S.

    Proves nothing changed: a refused request must change nothing at all, a foreign user's
    request nothing of A's (it may act on its own unit's rows).
    """
    from models import (
        AefiReport,
        AppointmentSlot,
        Enterprise,
        LotPackage,
        LotStock,
        Observation,
        ReviewDepartment,
        Station,
        StockDayClose,
        StockMovement,
        User,
        VaccineLot,
    )
    from models.audit import PersonEvent

    owned = {}
    if world is not None:
        ids = world.ids
        a_people = [pid for pid, _ in world.a_people]
        owned = {
            "person": Person.enterprise_id == ids["ent_a"], "enterprise": Enterprise.id == ids["ent_a"],
            "person_event": PersonEvent.person_id.in_(a_people), "station": Station.id == ids["station_s"],
            "appointment_slot": AppointmentSlot.station_id == ids["station_s"],
            "review_department": ReviewDepartment.id == ids["dept_x"],
            "user": (User.enterprise_id == ids["ent_a"]) | (User.department_id == ids["dept_x"])
            | (User.station_id == ids["station_s"]),
            "card_read": CardRead.station_id == ids["station_s"],
            "reader_token": ReaderToken.station_id == ids["station_s"],
            "vaccine_lot": VaccineLot.id == ids["lot"], "lot_stock": LotStock.station_id == ids["station_s"],
            "stock_movement": StockMovement.station_id == ids["station_s"],
            "lot_package": LotPackage.station_id == ids["station_s"],
            "stock_day_close": StockDayClose.station_id == ids["station_s"],
            "observation": Observation.station_id == ids["station_s"],
            "aefi_report": AefiReport.station_id == ids["station_s"],
        }
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name in ("audit_event", "alembic_version") or (world is not None and table.name not in owned):
            continue
        columns = [c for c in table.columns if c.name not in ("last_login_at", "last_used_at")]
        statement = select(*columns)
        if table.name in owned:
            statement = statement.where(owned[table.name])
        state[table.name] = sorted(map(repr, db.session.execute(statement).all()))
    db.session.rollback()
    return state


# ---------------------------------------------------------------- fixtures (registered by tests/conftest.py)

@pytest.fixture
def world(db, make_department, make_enterprise, make_station, make_slot, make_user):
    return build_world(db, make_department, make_enterprise, make_station, make_slot, make_user)


@pytest.fixture
def clients(app, world, login):
    """A logged-in test client per kind of user of the world, and one anonymous."""
    made = {ANON: app.test_client()}
    for kind, user in world.users.items():
        made[kind] = login(user, test_client=app.test_client())
    return made
