"""接种站端: check-in, exit confirmation, the station's appointments and progress."""

from admin_views.base import PersonListView
from admin_views.home import FunnelHomeView
from models.status import APPOINTED, CHECKED_IN, NOT_VACCINATED, VACCINATED
from models.user import STATION


class StationPersonView(PersonListView):
    role = STATION
    tabs = {
        "appointed": ("已预约", (APPOINTED,)),
        "checked_in": ("已登记", (CHECKED_IN,)),
        "finished": ("已完成", (VACCINATED, NOT_VACCINATED)),
    }
    default_tab = "appointed"
    column_list = ("enterprise.name", "name", "gender", "id_number", "age", "phone", "slot", "status")
    column_searchable_list = ("name", "id_number")


def build_console(admin):
    admin.add_view(StationPersonView(name="预约人员", endpoint="station_persons"))


def home_view():
    return FunnelHomeView(STATION, name="接种进度")
