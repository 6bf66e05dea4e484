"""Realistic demo data for Binhai: real 街镇 and units, invented people, real workflow history.

People are moved through the funnel by the state machine itself, each step at its own
moment of a campaign that ends now (models/demo_timeline.py), so the demo data has the
same audit trail, slot bookings and timestamps as data made by users, and today's
windows, desk queue and figures hold something whenever the demo is loaded.
"""

import random
from datetime import datetime, time, timedelta

from sqlalchemy import insert

from extensions import db
from models.base import clock_at, now
from models.demo_timeline import (
    FIRST_DAY,
    FIRST_WINDOW_DAY,
    LAST_WINDOW_DAY,
    day_at,
    enterprise_phases,
    registration_moment,
    run_campaign,
)
from models.identity import CREDIT_ALPHABET, age_on, credit_check_char, id_check_char
from models.options import PERSON_CATEGORY, option_labels, seed_default_options
from models.org import INDUSTRY, TERRITORY, AppointmentSlot, Enterprise, ReviewDepartment, Station, Territory
from models.person import Person
from models.user import ADMIN, CENTER, ENTERPRISE, REVIEW, STATION, User
from models.vaccines import StationProduct, seed_vaccine_products

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
    current = now()
    seed_default_options()
    password_hash = _demo_password_hash()
    with clock_at(day_at(current, FIRST_DAY, 9)):  # the district and its accounts predate the campaign
        territories = _territories()
        departments = _departments(territories)
        stations = _stations(territories)
        enterprises = _enterprises(rng, enterprise_count, departments, territories)
        accounts, users = _accounts(password_hash, departments, stations, enterprises)
        db.session.flush()
    _slots(stations, current)
    _persons(rng, person_count, enterprises, current)
    # Every transition expires the whole session; a thousand demo objects in it cost more than the
    # SQL. The steps only read these rows (ids, scopes), so they go on detached.
    db.session.expunge_all()
    run_campaign(rng, current, stations, _actors(users))
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


def _slots(stations, current, capacity=60):
    """Four windows a day at every station, from the campaign's first day to the coming week."""
    values = []
    for station in stations:
        for day in range(FIRST_WINDOW_DAY, LAST_WINDOW_DAY + 1):
            on = current.date() + timedelta(days=day)
            for begins, ends in WINDOWS:
                values.append({"station_id": station.id, "starts_at": datetime.combine(on, begins),
                               "ends_at": datetime.combine(on, ends), "capacity": capacity, "booked": 0})
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
    """Add an account for every unit; return the printed demo accounts and every User row."""
    users = []

    def user(username, role, display, **unit):
        users.append(User(username=username, role=role, display_name=display, password_hash=password_hash, **unit))
        db.session.add(users[-1])

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
    return accounts, users


def _actors(users):
    """The accounts that act in the campaign: the center, and every enterprise, department and station by unit."""
    by_unit = {ENTERPRISE: ("enterprise", "enterprise_id"), REVIEW: ("review", "department_id"),
               STATION: ("station", "station_id")}
    actors = {"enterprise": {}, "review": {}, "station": {}}
    for user in users:
        if user.role == CENTER:
            actors["center"] = user
        elif user.role in by_unit:
            kind, unit = by_unit[user.role]
            actors[kind][getattr(user, unit)] = user
    return actors


def _persons(rng, count, enterprises, current):
    today = current.date()
    categories = option_labels(PERSON_CATEGORY) or ["企业职工"]
    weights = [len(enterprises) - i for i in range(len(enterprises))]
    values, seen, phases = [], set(), {}
    serial = 0
    while len(values) < count:
        serial += 1
        number, born, gender = make_id_number(rng, serial, today)
        if number in seen:
            continue
        seen.add(number)
        rank = rng.choices(range(len(enterprises)), weights)[0]
        enterprise = enterprises[rank]
        if rank not in phases:
            phases[rank] = enterprise_phases(rng, rank)
        created = registration_moment(rng, current, phases[rank])
        values.append({
            "enterprise_id": enterprise.id, "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            "gender": gender, "id_number": number, "age": age_on(born, today),
            "phone": f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
            "category": rng.choice(categories), "lives_in_binhai": rng.random() < 0.9,
            "community": rng.choice(STREETS) + rng.choice(["花园", "家园", "新村", "小区"]),
            "remarks": "", "source": "qr", "consent_at": created, "policy_version": "2026-01",
            "status": "registered", "created_at": created, "version": 1,
        })
    db.session.execute(insert(Person), values)
