"""Small things the screenshots showed, pinned so they stay fixed."""

from datetime import date

from admin_views.center import trend_chart


def gridlines(top):
    chart = trend_chart([(date(2026, 11, 1), top)])
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
