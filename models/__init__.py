"""The data model. Importing this package registers every table."""

from models.audit import AuditEvent, PersonEvent, record_event
from models.base import now, today
from models.counters import PersonStatusCount
from models.doses import Vaccination
from models.import_file import ImportRejectFile
from models.options import OptionItem, option_labels
from models.org import AppointmentSlot, Enterprise, ReviewDepartment, Station, Territory
from models.person import Person
from models.reader import CardRead, ReaderToken
from models.sms import SmsCode, SmsMessage
from models.user import User
from models.vaccines import StationProduct, VaccineDoseRule, VaccineProduct

__all__ = [
    "AppointmentSlot", "AuditEvent", "CardRead", "Enterprise", "ImportRejectFile", "OptionItem", "Person",
    "PersonEvent", "PersonStatusCount", "ReaderToken", "ReviewDepartment", "SmsCode", "SmsMessage", "Station",
    "StationProduct", "Territory", "User", "Vaccination", "VaccineDoseRule", "VaccineProduct",
    "now", "option_labels", "record_event", "today",
]
