"""Small things the screenshots showed, pinned so they stay fixed."""

from datetime import date

from admin_views.center import trend_chart


def gridlines(top):
    chart = trend_chart([(date(2026, 11, 1), {"dose1": top})])
    return [(tick["value"], tick["y"]) for tick in chart["ticks"]], chart


def test_the_trend_chart_never_labels_two_gridlines_with_the_same_number():
    ticks, _ = gridlines(1)
    assert [value for value, _ in ticks] == [0, 1]


def test_each_gridline_is_drawn_where_its_number_lies():
    for top in (1, 2, 3, 7, 10, 250):
        ticks, chart = gridlines(top)
        base, full = chart["base_y"], chart["bars"][0]
        for value, y in ticks:
            assert abs((base - y) - full["h"] * value / top) < 0.2, (top, value)


def test_the_reader_token_form_opens_and_offers_the_active_stations(client, login, make_user, make_station, db):
    # WTForms 3.3 warns about the raw tuples Flask-Admin's relation select yields; warnings are
    # errors here, so before the fix this page answered 500 in every test run.
    make_station("新河街社区卫生服务中心接种点")
    make_station("已停用接种点").active = False
    login(make_user("admin"))
    page = client.get("/admin/admin_reader_tokens/new/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "新河街社区卫生服务中心接种点" in html and "已停用接种点" not in html
