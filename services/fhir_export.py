"""The report upward: one day's dose records as the daily xlsx and as a FHIR R4 Bundle of Immunization.

FHIR R4 (4.0.1) Immunization: status `completed` or `not-done` (then statusReason), vaccineCode,
patient, occurrenceDateTime, primarySource, manufacturer, lotNumber, expirationDate, performer
(function AP = administering provider, HL7 v2-0443), location, protocolApplied.doseNumberPositiveInt.
The Bundle is a `collection` that carries the Patient resources the Immunizations point to.
Identifier systems are this system's own (PUBLIC_BASE_URL/fhir/sid/...): the next level maps them.
"""

import uuid
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from extensions import db
from models.base import CAMPAIGN_TZ, now
from models.doses import GIVEN, VALID, Vaccination
from models.lots import VaccineLot
from models.org import Station
from models.person import Person
from models.user import User
from models.vaccines import VaccineProduct
from services.spreadsheets import write_xlsx

DAILY_HEADERS = ("日期", "接种点", "疫苗品种", "批号", "剂次", "接种人次", "未接种人次")
V2_0443 = "http://terminology.hl7.org/CodeSystem/v2-0443"


def _day_bounds(day):
    start = datetime.combine(day, time.min)
    return start, start + timedelta(days=1)


def daily_dose_rows(day):
    """Per station, product, lot and dose number: doses given and not given on `day` (valid records)."""
    start, end = _day_bounds(day)
    given = func.sum(db.case((Vaccination.outcome == GIVEN, 1), else_=0))
    statement = (
        select(Station.name, func.coalesce(VaccineProduct.name, Vaccination.product_name), Vaccination.lot_number,
               Vaccination.dose_number, Vaccination.is_booster, given, func.count() - given)
        .outerjoin(Station, Station.id == Vaccination.station_id)
        .outerjoin(VaccineProduct, VaccineProduct.id == Vaccination.product_id)
        .where(Vaccination.at >= start, Vaccination.at < end, Vaccination.state == VALID)
        .group_by(Station.name, VaccineProduct.name, Vaccination.product_name, Vaccination.lot_number,
                  Vaccination.dose_number, Vaccination.is_booster)
        .order_by(Station.name, VaccineProduct.name, Vaccination.lot_number, Vaccination.dose_number)
    )
    return [(day.isoformat(), station or "", product or "", lot or "", "加强" if booster else f"第{dose}剂",
             int(n_given or 0), int(n_not or 0))
            for station, product, lot, dose, booster, n_given, n_not in db.session.execute(statement)]


def daily_dose_xlsx(day):
    """The daily report as xlsx bytes (a few hundred rows: one per station, product, lot and dose)."""
    with write_xlsx(DAILY_HEADERS, daily_dose_rows(day), title=f"{day:%Y%m%d}接种日报", text_columns=(3,)) as output:
        return output.read()


def _records_of_day(day):
    start, end = _day_bounds(day)
    vaccinator = aliased(User)
    return db.session.execute(
        select(Vaccination, Person, VaccineProduct, VaccineLot, Station.name.label("station"),
               vaccinator.display_name.label("vaccinator"))
        .join(Person, Person.id == Vaccination.person_id)
        .outerjoin(VaccineProduct, VaccineProduct.id == Vaccination.product_id)
        .outerjoin(VaccineLot, VaccineLot.id == Vaccination.lot_id)
        .outerjoin(Station, Station.id == Vaccination.station_id)
        .outerjoin(vaccinator, vaccinator.id == Vaccination.vaccinator_id)
        .where(Vaccination.at >= start, Vaccination.at < end, Vaccination.state == VALID)
        .order_by(Vaccination.id)
    ).all()


def _base():
    return (current_app.config.get("PUBLIC_BASE_URL") or "http://localhost").rstrip("/")


def _instant(value):
    return value.replace(tzinfo=CAMPAIGN_TZ).isoformat()


def _patient(person, base):
    patient = {
        "resourceType": "Patient", "id": f"person-{person.id}",
        "identifier": [{"system": f"{base}/fhir/sid/resident-id", "value": person.id_number}],
        "name": [{"text": person.name}],
        "gender": {"M": "male", "F": "female"}.get(person.gender, "unknown"),
    }
    if person.phone:  # FHIR allows no empty arrays
        patient["telecom"] = [{"system": "phone", "value": person.phone}]
    return patient


def immunization(vaccination, person, product, lot, station, vaccinator, base):
    """One dose record as a FHIR R4 Immunization (a dict ready for JSON)."""
    resource = {
        "resourceType": "Immunization", "id": f"vaccination-{vaccination.id}",
        "identifier": [{"system": f"{base}/fhir/sid/vaccination", "value": str(vaccination.id)}],
        "status": "completed" if vaccination.outcome == GIVEN else "not-done",
        "vaccineCode": {"text": product.name if product else (vaccination.product_name or "未知疫苗")},
        "patient": {"reference": f"Patient/person-{person.id}", "display": person.name},
        "occurrenceDateTime": _instant(vaccination.at),
        "recorded": _instant(vaccination.created_at or vaccination.at),
        "primarySource": True,
        "protocolApplied": [{"doseNumberPositiveInt": vaccination.dose_number}],
    }
    if product is not None:
        resource["vaccineCode"]["coding"] = [{"system": f"{base}/fhir/CodeSystem/vaccine-product",
                                              "code": product.code, "display": product.name}]
    if vaccination.outcome != GIVEN:
        resource["statusReason"] = {"text": vaccination.reason or "未接种"}
    manufacturer = (lot.manufacturer if lot else None) or (product.manufacturer if product else None)
    if manufacturer:
        resource["manufacturer"] = {"display": manufacturer}
    if vaccination.lot_number:
        resource["lotNumber"] = vaccination.lot_number
    if lot is not None:
        resource["expirationDate"] = lot.expiry_date.isoformat()
    if vaccinator or station:
        resource["performer"] = [{
            "function": {"coding": [{"system": V2_0443, "code": "AP", "display": "Administering Provider"}]},
            "actor": {"display": vaccinator or station},
        }]
    if station:
        resource["location"] = {"display": station}
    return resource


def immunization_bundle(day):
    """The day's records as a Bundle (type collection) of Patient and Immunization resources."""
    base = _base()
    entries, patients = [], {}
    for vaccination, person, product, lot, station, vaccinator in _records_of_day(day):
        if person.id not in patients:
            patients[person.id] = _patient(person, base)
        entries.append(immunization(vaccination, person, product, lot, station, vaccinator, base))
    resources = list(patients.values()) + entries
    return {
        "resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "collection",
        "timestamp": _instant(now()),
        "entry": [{"fullUrl": f"{base}/fhir/{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }
