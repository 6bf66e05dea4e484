"""接种站端: check-in, exit confirmation, the station's appointments and progress.

The console opens on 入站登记 (the desk), as the operation manual describes.
"""

from flask import url_for
from markupsafe import Markup

from admin_views import self_cancellations
from admin_views.base import PersonListView
from admin_views.station_aefi import StationAefiView
from admin_views.station_appointments import StationAppointmentView
from admin_views.station_desk import StationDeskView
from admin_views.station_observation import StationObservationView
from admin_views.station_progress import StationProgressView
from admin_views.station_queue import StationQueueView
from admin_views.station_stock import StationStockView
from models.status import APPOINTED, CHECKED_IN, NOT_VACCINATED, VACCINATED
from models.user import STATION


def signature_formatter(view, context, model, name):
    if model.status != VACCINATED:
        return ""
    return Markup('<a href="{0}" target="_blank" rel="noopener">查看签名</a>').format(
        url_for("station_queue.signature", person_id=model.id))


class StationPersonView(PersonListView):
    role = STATION
    tabs = {
        "appointed": ("已预约", (APPOINTED,)),
        "checked_in": ("已登记", (CHECKED_IN,)),
        "finished": ("已完成", (VACCINATED, NOT_VACCINATED)),
    }
    default_tab = "appointed"
    column_list = ("enterprise.name", "name", "gender", "id_number", "age", "phone", "slot", "status",
                   "not_vaccinated_reason", "vaccine_lot", "signature")
    column_searchable_list = ("name", "id_number")
    column_formatters = {**PersonListView.column_formatters, "signature": signature_formatter}
    column_labels = {**PersonListView.column_labels, "vaccine_lot": "疫苗批号", "signature": "电子签名"}


def build_console(admin):
    admin.add_view(StationQueueView(name="候诊队列", endpoint="station_queue", url="/station/queue"))
    admin.add_view(StationAppointmentView(name="预约管理", endpoint="station_appointments",
                                          url="/station/appointments"))
    admin.add_view(StationPersonView(name="预约人员", endpoint="station_persons"))
    admin.add_view(self_cancellations.station_view())
    admin.add_view(StationProgressView(name="接种进度", endpoint="station_progress", url="/station/progress"))
    admin.add_view(StationObservationView(name="留观", endpoint="station_observation", url="/station/observation"))
    admin.add_view(StationAefiView(name="异常反应", endpoint="station_aefi", url="/station/aefi"))
    admin.add_view(StationStockView(name="疫苗库存", endpoint="station_stock", url="/station/stock"))


def home_view():
    return StationDeskView(name="入站登记")
