"""Realistic demo data for Binhai: real 街镇 and units, invented people, real workflow history.

People are moved through the funnel by the state machine itself, so the demo data has
the same audit trail, slot bookings and timestamps as data made by users.
"""

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, insert, select, update

from extensions import db
from models.base import now
from models.doses import Vaccination
from models.identity import CREDIT_ALPHABET, age_on, credit_check_char, id_check_char
from models.options import PERSON_CATEGORY, option_labels, seed_default_options
from models.org import INDUSTRY, TERRITORY, AppointmentSlot, Enterprise, ReviewDepartment, Station, Territory
from models.person import Person
from models.status import CHECKED_IN, DUE_NEXT, VACCINATED
from models.user import ADMIN, CENTER, ENTERPRISE, REVIEW, STATION, User
from models.vaccines import StationProduct, seed_vaccine_products
from models.workflow import apply_transition
from services.sms import notify_persons_of_event

DEMO_PASSWORD = "Binhai2026"

STREETS = [
    "塘沽街道", "杭州道街道", "新河街道", "大沽街道", "新北街道", "北塘街道", "胡家园街道", "汉沽街道",
    "寨上街道", "茶淀街道", "大港街道", "海滨街道", "古林街道", "太平镇", "小王庄镇", "中塘镇", "新城镇",
    "杨家泊镇", "泰达街道",
]
ZONES = ["天津经济技术开发区", "天津港保税区", "滨海高新区", "东疆保税港区", "中新天津生态城", "中心商务区"]
INDUSTRY_DEPARTMENTS = {
    "区发展改革委": [], "区工业和信息化局": [], "区商务局": [],
    "区交通运输局": ["区道路运输管理中心", "区港航事务中心"],
    "区住房建设委": [], "区卫生健康委": ["区疾病预防控制中心", "区卫生监督所"],
    "区教育体育局": [], "区市场监管局": ["塘沽市场监管所", "汉沽市场监管所", "大港市场监管所"],
    "区文化和旅游局": [], "区农业农村委": [], "区国资委": [], "区应急管理局": [], "区城市管理委": [],
    "区金融局": [],
    "天津港集团公司": [], "中海石油(中国)有限公司天津分公司": [], "天津渤海化工集团": [],
}
ZONE_CHILDREN = ["企业服务局", "社会发展局"]
PORT_SUBSIDIARIES = ["天津港轮驳有限公司", "天津港第一港埠有限公司", "天津港集装箱码头有限公司"]
STATIONS = [
    ("新河街社区卫生服务中心接种点", "新河街道"), ("塘沽街社区卫生服务中心接种点", "塘沽街道"),
    ("杭州道街社区卫生服务中心接种点", "杭州道街道"), ("汉沽街社区卫生服务中心接种点", "汉沽街道"),
    ("大港医院接种点", "大港街道"), ("泰达医院接种点", "泰达街道"), ("胡家园街社区卫生服务中心接种点", "胡家园街道"),
    ("北塘街社区卫生服务中心接种点", "北塘街道"), ("古林街社区卫生服务中心接种点", "古林街道"),
    ("滨海文化中心临时接种点", "新北街道"),
]
WINDOWS = [(time(8, 30), time(10, 0)), (time(10, 0), time(11, 30)), (time(13, 30), time(15, 0)),
           (time(15, 0), time(16, 30))]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华玉兰萍红志强海燕鹏飞晓东文博子涵浩然欣怡"
COMPANY_WORDS = ["海洋", "港航", "渤海", "滨城", "泰达", "临港", "北方", "津港", "海通", "远洋", "新程", "华信",
                 "鑫源", "恒通", "中兴", "海晟", "宏达", "蓝海", "金桥", "瑞丰"]
COMPANY_KINDS = ["物流有限公司", "科技有限公司", "船舶服务有限公司", "化工有限公司", "贸易有限公司",
                 "食品有限公司", "建设工程有限公司", "装备制造有限公司", "冷链物流有限公司", "医药有限公司"]
LOCAL_REGIONS = ["120116", "120107", "120108", "120109"]


def make_credit_code(rng):
    first17 = "91120116" + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
    return first17 + credit_check_char(first17)


def make_id_number(rng, serial, on):
    born = on - timedelta(days=rng.randint(18 * 365, 64 * 365))
    gender_digit = rng.randint(0, 9)
    first17 = f"{rng.choice(LOCAL_REGIONS)}{born:%Y%m%d}{serial % 100:02d}{gender_digit}"
    return first17 + id_check_char(first17), born, "M" if gender_digit % 2 else "F"


def seed(enterprise_count=300, person_count=3000, seed_value=2026):
    """Create the demo district and return [(role, username, unit)] of the demo accounts."""
    rng = random.Random(seed_value)
    seed_default_options()
    password_hash = _demo_password_hash()
    territories = _territories()
    departments = _departments(territories)
    stations = _stations(territories)
    _slots(stations)
    enterprises = _enterprises(rng, enterprise_count, departments, territories)
    accounts = _accounts(password_hash, departments, stations, enterprises)
    db.session.flush()
    _persons(rng, person_count, enterprises)
    _advance_through_funnel(rng, stations)
    return accounts


def _demo_password_hash():
    user = User()
    user.set_password(DEMO_PASSWORD)
    return user.password_hash


def _territories():
    rows = {}
    for order, name in enumerate(STREETS + ZONES):
        rows[name] = Territory(name=name, sort_order=order)
        db.session.add(rows[name])
    return rows


def _departments(territories):
    rows = []
    for order, (name, children) in enumerate(INDUSTRY_DEPARTMENTS.items()):
        parent = ReviewDepartment(name=name, dimension=INDUSTRY, sort_order=order, contact_phone=f"022-6530{order:04d}")
        rows.append(parent)
        for child in children:
            rows.append(ReviewDepartment(name=child, dimension=INDUSTRY, parent=parent, sort_order=order))
    for order, name in enumerate(STREETS + ZONES):
        parent = ReviewDepartment(name=name, dimension=TERRITORY, sort_order=100 + order)
        rows.append(parent)
        if name in ZONES:
            for child in ZONE_CHILDREN:
                rows.append(ReviewDepartment(name=f"{name}{child}", dimension=TERRITORY, parent=parent,
                                             sort_order=100 + order))
    db.session.add_all(rows)
    return rows


VERO, CHO, AD5 = "新冠病毒灭活疫苗(Vero细胞)", "重组新冠病毒蛋白疫苗(CHO细胞)", "腺病毒载体新冠疫苗(Ad5-nCoV)"


def _stations(territories):
    """The stations; most give the two-dose inactivated vaccine, every fourth the single-dose Ad5 by default."""
    rows = []
    for name, street in STATIONS:
        product = AD5 if len(rows) % 4 == 3 else VERO
        rows.append(Station(name=name, address=f"滨海新区{street}", territory=territories[street],
                            contact_phone=f"022-2532{len(rows):04d}",
                            default_vaccine_product=product, default_vaccine_lot="202611A"))
    db.session.add_all(rows)
    products = seed_vaccine_products()
    for index, station in enumerate(rows):
        given = (VERO, AD5, CHO) if index % 3 == 0 else (VERO, AD5)
        station.product_links = [StationProduct(product=products[name]) for name in given]
    return rows


def _slots(stations, capacity=60):
    db.session.flush()
    start = date.today() - timedelta(days=3)
    values = []
    for station in stations:
        for day in range(10):
            current = start + timedelta(days=day)
            for begins, ends in WINDOWS:
                values.append({"station_id": station.id, "starts_at": datetime.combine(current, begins),
                               "ends_at": datetime.combine(current, ends), "capacity": capacity, "booked": 0})
    db.session.execute(insert(AppointmentSlot), values)


def _enterprises(rng, count, departments, territories):
    territory_list = list(territories.values())
    port_group = next(d for d in departments if d.name == "天津港集团公司")
    port_parent = Enterprise(name="天津港(集团)有限公司", credit_code=make_credit_code(rng), department=port_group,
                             territory=territories["塘沽街道"],
                             address="滨海新区津港路99号", contact_name="王建国", phone="13902200001")
    rows = [port_parent]
    for index, name in enumerate(PORT_SUBSIDIARIES):
        rows.append(Enterprise(name=name, credit_code=make_credit_code(rng), department=port_group,
                               territory=territories["塘沽街道"], parent=port_parent,
                               address=f"滨海新区港航路{index + 10}号", contact_name="李港",
                               phone=f"1390220{index + 2:04d}"))
    names = set()
    while len(rows) < count:
        name = "天津" + rng.choice(COMPANY_WORDS) + rng.choice(COMPANY_WORDS) + rng.choice(COMPANY_KINDS)
        if name in names:
            continue
        names.add(name)
        rows.append(Enterprise(
            name=name, credit_code=make_credit_code(rng), department=rng.choice(departments),
            territory=rng.choice(territory_list), address=f"滨海新区{rng.choice(STREETS)}{rng.randint(1, 999)}号",
            contact_name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            phone=f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
        ))
    db.session.add_all(rows)
    return rows


DEMO_PHONES = {"admin": "13902230000", "center": "13902230001", "review": "1390221", "station": "1390222"}


def _accounts(password_hash, departments, stations, enterprises):
    def user(username, role, display, **unit):
        db.session.add(User(username=username, role=role, display_name=display, password_hash=password_hash, **unit))

    # Every demo account has a phone of its own, so 忘记密码 can be tried with any of them.
    user("admin", ADMIN, "系统管理员", phone=DEMO_PHONES["admin"])
    user("center", CENTER, "滨海新区疫情防控指挥中心", phone=DEMO_PHONES["center"])
    accounts = [("admin", "admin", "系统管理员"), ("center", "center", "滨海新区疫情防控指挥中心")]
    for index, department in enumerate(departments, start=1):
        username = f"dept{index:03d}"
        user(username, REVIEW, department.name, department=department, phone=f"{DEMO_PHONES['review']}{index:04d}")
        if department.name in ("天津港集团公司", "区交通运输局", "新河街道"):
            accounts.append(("review", username, department.name))
    for index, station in enumerate(stations, start=1):
        username = f"station{index:02d}"
        user(username, STATION, station.name, station=station, phone=f"{DEMO_PHONES['station']}{index:04d}")
        if index <= 2:
            accounts.append(("station", username, station.name))
    for index, enterprise in enumerate(enterprises):
        user(enterprise.credit_code, ENTERPRISE, enterprise.name, enterprise=enterprise, phone=enterprise.phone)
        if index in (0, 1):
            accounts.append(("enterprise", enterprise.credit_code, enterprise.name))
    return accounts


def _persons(rng, count, enterprises):
    today = date.today()
    categories = option_labels(PERSON_CATEGORY) or ["企业职工"]
    weights = [len(enterprises) - i for i in range(len(enterprises))]
    values, seen = [], set()
    serial = 0
    created = now() - timedelta(days=6)
    while len(values) < count:
        serial += 1
        number, born, gender = make_id_number(rng, serial, today)
        if number in seen:
            continue
        seen.add(number)
        enterprise = rng.choices(enterprises, weights)[0]
        values.append({
            "enterprise_id": enterprise.id, "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            "gender": gender, "id_number": number, "age": age_on(born, today),
            "phone": f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
            "category": rng.choice(categories), "lives_in_binhai": rng.random() < 0.9,
            "community": rng.choice(STREETS) + rng.choice(["花园", "家园", "新村", "小区"]),
            "remarks": "", "source": "qr", "consent_at": created, "policy_version": "2026-01",
            "status": "registered", "created_at": created + timedelta(minutes=rng.randint(0, 3000)), "version": 1,
        })
    db.session.execute(insert(Person), values)


def _users_by(role, key):
    rows = db.session.execute(select(User).where(User.role == role)).scalars()
    return {getattr(u, key): u for u in rows}


def _ids(condition):
    return list(db.session.execute(select(Person.id).where(condition).order_by(Person.id)).scalars())


def _sample(rng, ids, share):
    return rng.sample(ids, int(len(ids) * share))


def _advance_through_funnel(rng, stations):
    """Move the demo people through the funnel with the real state machine."""
    enterprise_users = _users_by(ENTERPRISE, "enterprise_id")
    for enterprise_id, actor in enterprise_users.items():
        ids = _ids((Person.enterprise_id == enterprise_id) & (Person.status == "registered"))
        apply_transition("submit", actor, ids=_sample(rng, ids, 0.85))
    for actor in _users_by(REVIEW, "department_id").values():
        pending = _ids((Person.status == "submitted") & Person.enterprise.has(department_id=actor.department_id))
        returned = _sample(rng, pending, 0.04)
        if returned:
            apply_transition("dept_return", actor, ids=returned, reason="身份证号与姓名不符，请核对后重新提交")
        rest = sorted(set(pending) - set(returned))
        apply_transition("dept_approve", actor, ids=_sample(rng, rest, 0.85))
    center = db.session.execute(select(User).where(User.username == "center")).scalar_one()
    apply_transition("center_approve", center, ids=_sample(rng, _ids(Person.status == "dept_approved"), 0.85))
    approved = _ids(Person.status == "center_approved")
    for index, share_of_approved in enumerate(_chunks(_sample(rng, approved, 0.8), len(stations))):
        apply_transition("allocate", center, ids=share_of_approved, station=stations[index % len(stations)])
    _book_and_vaccinate(rng, stations, center)


def _chunks(items, parts):
    size = max(len(items) // parts, 1)
    return [items[i:i + size] for i in range(0, len(items), size)]


def _book_and_vaccinate(rng, stations, center):
    station_users = _users_by(STATION, "station_id")
    current = now()
    for station in stations:
        allocated = _ids((Person.station_id == station.id) & (Person.status == "allocated"))
        to_book = _sample(rng, allocated, 0.75)
        slots = db.session.execute(
            select(AppointmentSlot).where(AppointmentSlot.station_id == station.id).order_by(AppointmentSlot.starts_at)
        ).scalars().all()
        for slot in slots:
            if not to_book:
                break
            result = apply_transition("appoint", center, ids=to_book, slot=slot)
            # The demo's 短信记录: the booking notices, delivered by the worker `make run` starts.
            notify_persons_of_event(result.event_id, _booking_notice(station, slot), "appointment")
            booked = set(_ids(Person.last_event_id == result.event_id))
            to_book = [i for i in to_book if i not in booked]
        actor = station_users[station.id]
        past = _ids((Person.station_id == station.id) & (Person.status == "appointed")
                    & Person.slot.has(AppointmentSlot.ends_at < current))
        arrived = _sample(rng, past, 0.9)
        if arrived:
            apply_transition("check_in", actor, ids=arrived)
            no_shot = _sample(rng, arrived, 0.05)
            if not no_shot and len(arrived) >= 4:
                no_shot = arrived[:1]  # small demos still show someone 未接种
            if no_shot:
                apply_transition("mark_not_vaccinated", actor, ids=no_shot, reason="发热(体温≥37.3℃)")
            apply_transition("vaccinate", actor, ids=sorted(set(arrived) - set(no_shot)),
                             extra={"vaccine_product": station.default_vaccine_product,
                                    "vaccine_lot": station.default_vaccine_lot})
    _backdate_to_slots()
    _second_doses(rng, stations, center, station_users)


def _second_doses(rng, stations, center, station_users):
    """Some of those who had dose 1 had it four weeks ago: dose 2 is due, booked, and for a few given today."""
    current = now()
    for station in stations:
        due = _ids((Person.station_id == station.id) & (Person.status == DUE_NEXT))
        earlier = _sample(rng, due, 0.4)
        if not earlier:
            continue
        _move_dose_one_back(earlier, days=28)
        slots = db.session.execute(
            select(AppointmentSlot).where(AppointmentSlot.station_id == station.id,
                                          AppointmentSlot.starts_at >= current.replace(hour=0, minute=0, second=0))
            .order_by(AppointmentSlot.starts_at)
        ).scalars().all()
        to_book = _sample(rng, earlier, 0.7)
        for slot in slots:
            if not to_book:
                break
            result = apply_transition("appoint", center, ids=to_book, slot=slot)
            booked = set(_ids(Person.last_event_id == result.event_id))
            to_book = [i for i in to_book if i not in booked]
        today_slot = slots[0].id if slots else None
        arrived = _ids((Person.station_id == station.id) & (Person.status == "appointed")
                       & (Person.slot_id == today_slot) & (Person.dose_number == 2))[:8]
        if arrived:
            actor = station_users[station.id]
            apply_transition("check_in", actor, ids=arrived)
            apply_transition("vaccinate", actor, ids=arrived[: max(len(arrived) - 2, 1)],
                             extra={"vaccine_product": VERO, "vaccine_lot": "202611B"})


def _move_dose_one_back(ids, days):
    """Dose 1 of `ids` (demo history) given `days` earlier; their dose-2 window moves with it."""
    shift = timedelta(days=days)
    stamps = ("submitted_at", "dept_approved_at", "center_approved_at", "allocated_at", "appointed_at",
              "checked_in_at", "finished_at", "next_dose_earliest", "next_dose_latest")
    for person_id in ids:
        person = db.session.get(Person, person_id)
        dose_one = db.session.execute(select(Vaccination).where(Vaccination.person_id == person_id)).scalar_one()
        dose_one.at -= shift
        for stamp in stamps:
            if getattr(person, stamp) is not None:
                setattr(person, stamp, getattr(person, stamp) - shift)
    db.session.flush()


def _booking_notice(station, slot):
    return (f"【滨海新区疫苗接种】您已预约{slot.starts_at:%m月%d日 %H:%M}-{slot.ends_at:%H:%M}"
            f"在{station.name}接种，请携带身份证按时前往。")


def _backdate_to_slots():
    """Put the check-in and exit times of past appointments inside their windows."""
    # Someone 待续种 holds no slot: their dose-1 window is the one they left (previous_slot_id).
    slot_id = func.coalesce(Person.slot_id, Person.previous_slot_id)
    window_start = select(AppointmentSlot.starts_at).where(AppointmentSlot.id == slot_id).scalar_subquery()
    rows = db.session.execute(
        select(Person.id, Person.status, window_start)
        .where(Person.status.in_((CHECKED_IN, VACCINATED, "not_vaccinated", DUE_NEXT)))
    ).all()
    for chunk_start in range(0, len(rows), 500):
        for person_id, status, starts in rows[chunk_start:chunk_start + 500]:
            offset = timedelta(minutes=(person_id * 7) % 80)
            finished = starts + offset + timedelta(minutes=35)
            window = {}
            if status == DUE_NEXT:  # the inactivated vaccine's dose-2 window, from the real day of dose 1
                window = {"next_dose_earliest": finished.date() + timedelta(days=21),
                          "next_dose_latest": finished.date() + timedelta(days=56)}
            db.session.execute(
                update(Person).where(Person.id == person_id)
                .values(checked_in_at=starts + offset, finished_at=finished, **window, **_stages_before(starts))
                .execution_options(synchronize_session=False)
            )
            db.session.execute(
                update(Vaccination).where(Vaccination.person_id == person_id).values(at=finished)
                .execution_options(synchronize_session=False)
            )


def _stages_before(starts):
    """Stamp the earlier stages of a past appointment before its window, in funnel order (check-data)."""
    stamps = ("submitted_at", "dept_approved_at", "center_approved_at", "allocated_at", "appointed_at")
    return {stamp: starts - timedelta(hours=6 * (len(stamps) - index)) for index, stamp in enumerate(stamps)}
