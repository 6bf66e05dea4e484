"""Shared model helpers: the campaign clock and common column types."""

from datetime import datetime
from zoneinfo import ZoneInfo

from extensions import db

# Times are stored as naive local times of the campaign (Asia/Shanghai): every user,
# station and slot lives in that one zone, and SQLite has no time-zone type.
CAMPAIGN_TZ = ZoneInfo("Asia/Shanghai")


def now():
    """Return the current campaign-local time, naive, to the second."""
    return datetime.now(CAMPAIGN_TZ).replace(tzinfo=None, microsecond=0)


def today():
    return now().date()


Model = db.Model
