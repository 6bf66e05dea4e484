"""接种进度: today's figures of the station by hour and in total, refreshing by itself."""

import re
from datetime import datetime, time, timedelta

from models import Vaccination, today


def at(hour, minute=0, day=None):
    return datetime.combine(day or today(), time(hour, minute))


def figures(page):
    return {key: int(value) for key, value in re.findall(r'data-total="(\w+)">(\d+)<', page)}


def hour_row(page, hour):
    row = re.search(rf'<tr data-hour="{hour}">(.*?)</tr>', page, re.S).group(1)
    return [int(v) for v in re.findall(r'<span class="hour-value">(\d+)</span>', row)]


def test_progress_counts_today_by_hour_and_in_total(client, login, db, make_station, make_enterprise, make_slot,
                                                     make_persons, make_user):
    station, other = make_station(), make_station()
    enterprise = make_enterprise()
    nine = make_slot(station, starts_at=at(9), minutes=60, capacity=20)
    ten = make_slot(station, starts_at=at(10), minutes=60, capacity=20)
    yesterday = make_slot(station, starts_at=at(9, day=today() - timedelta(days=1)), capacity=20)
    make_persons(enterprise, 2, status="appointed", station=station, slot=nine)
    make_persons(enterprise, 1, status="checked_in", station=station, slot=nine, checked_in_at=at(9, 20))
    given = make_persons(enterprise, 3, status="vaccinated", station=station, slot=ten, checked_in_at=at(9, 50),
                         finished_at=at(10, 30))
    # One of them had dose 1 here at 10:40 and is booked for dose 2 since: still given here at 10.
    dose_one = make_persons(enterprise, 1, status="appointed", station=station, slot=nine, dose_number=2,
                            doses_given=1)
    db.session.add_all(Vaccination(person_id=i, dose_number=1, station_id=station.id, outcome="given",
                                   at=at(10, 40 if i in dose_one else 30)) for i in given + dose_one)
    make_persons(enterprise, 1, status="not_vaccinated", station=station, slot=ten, checked_in_at=at(10, 5),
                 finished_at=at(10, 15), not_vaccinated_reason="发热(体温≥37.3℃)")
    make_persons(enterprise, 4, status="vaccinated", station=station, slot=yesterday,
                 checked_in_at=at(9, 10, day=today() - timedelta(days=1)),
                 finished_at=at(9, 40, day=today() - timedelta(days=1)))
    other_slot = make_slot(other, starts_at=at(9), capacity=20)
    make_persons(enterprise, 5, status="vaccinated", station=other, slot=other_slot, checked_in_at=at(9, 5),
                 finished_at=at(9, 30))
    user = make_user("station", station)
    db.session.commit()
    login(user)
    page = client.get("/station/progress/").get_data(as_text=True)
    assert figures(page) == {"appointed": 8, "checked_in": 5, "vaccinated": 4, "not_vaccinated": 1}
    # columns: 预约 登记 完成接种 未接种
    assert hour_row(page, 9) == [4, 4, 0, 0]
    assert hour_row(page, 10) == [4, 1, 4, 1]
    assert 'data-figure="waiting">1<' in page
    assert 'data-figure="vaccinated-total">7<' in page  # every day, this station only
    assert 'data-refresh-seconds="10"' in page and "js/station_progress.js" in page
    panel = client.get("/station/progress/panel").get_data(as_text=True)
    assert figures(panel) == figures(page) and "<html" not in panel
