"""The data model. Importing this package registers every table."""

from models import recall  # noqa: F401 - registers the recall index on the vaccination table
from models.aefi import AefiReport
from models.audit import AuditEvent, PersonEvent, record_event
from models.base import now, today
from models.certificates import Certificate, CertificateDose
from models.counters import PersonStatusCount
from models.department_counts import DepartmentStatusCount
from models.dose_counts import DoseCount, DoseEnterpriseTotal, DoseStationDay, DoseStationTotal
from models.doses import Vaccination
from models.import_file import ImportRejectFile
from models.lot_counts import LotDoseCount
from models.lots import LotPackage, LotStock, StockDayClose, StockMovement, VaccineLot
from models.observation import Observation
from models.options import OptionItem, option_labels
from models.org import AppointmentSlot, Enterprise, ReviewDepartment, Station, Territory
from models.person import Person
from models.reader import CardRead, ReaderToken
from models.sms import JobRun, SmsCode, SmsMessage
from models.user import User
from models.vaccines import StationProduct, VaccineDoseRule, VaccineProduct

__all__ = [
    "AefiReport", "AppointmentSlot", "AuditEvent", "CardRead", "Certificate", "CertificateDose",
    "DepartmentStatusCount", "DoseCount",
    "DoseEnterpriseTotal", "DoseStationDay", "DoseStationTotal",
    "Enterprise", "ImportRejectFile", "JobRun", "LotDoseCount", "LotPackage", "LotStock", "Observation", "OptionItem",
    "Person", "PersonEvent",
    "PersonStatusCount", "ReaderToken", "ReviewDepartment", "SmsCode", "SmsMessage", "Station", "StationProduct",
    "StockDayClose", "StockMovement", "Territory", "User", "Vaccination", "VaccineDoseRule", "VaccineLot",
    "VaccineProduct",
    "now", "option_labels", "record_event", "today",
]
