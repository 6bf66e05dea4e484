"""The 留观 wall display's clock shows the campaign's time, whatever time zone the display is set to.

The rows' times and the countdowns come from the server; a wall tablet left on UTC (or with a wrong
clock) must not show a clock eight hours away from them.
"""

from datetime import datetime, timedelta

from playwright.sync_api import expect

from models.base import now
from tests.e2e.pages import log_in


def seconds_of_day(text):
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def test_the_wall_clock_keeps_campaign_time_on_a_display_set_to_another_zone(db, make_station, make_user,
                                                                          browser, base_url):
    make_user("station", make_station("北塘街社区卫生服务中心接种点"), username="clock-station")
    db.session.commit()
    context = browser.new_context(locale="zh-CN", base_url=base_url, timezone_id="America/New_York")
    context.set_default_timeout(10000)
    page = context.new_page()
    log_in(page, "station", "clock-station", base_url=base_url)
    page.goto("/station/observation/?wall=1")
    clock = page.locator("#observation-clock")
    before = clock.text_content()
    expect(clock).not_to_have_text(before, timeout=5000)  # it ticks
    shown = seconds_of_day(clock.text_content())
    campaign = now()
    expected = (campaign - datetime.combine(campaign.date(), datetime.min.time())) / timedelta(seconds=1)
    drift = min(abs(shown - expected), 86400 - abs(shown - expected))
    assert drift < 10, f"the clock shows {clock.text_content()}, the campaign time is {campaign:%H:%M:%S}"
    context.close()
