"""The report upward: the daily dose xlsx and the FHIR R4 Bundle, validated with fhir.resources.

fhir.resources 6.1.0 (pinned in requirements-dev.txt) ships FHIR 4.0.1 (R4) as its default
package (plus STU3 and DSTU2); 6.5.0 ships 4.3.0 (R4B) and 8.x R5/R4B/STU3, so this pin is
what validates against R4 itself. It checks structure, cardinality and primitive types, not
value sets: the status codes are asserted here.
"""

import io
import json
from datetime import timedelta

import fhir.resources
import pytest
from fhir.resources.bundle import Bundle
from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy import insert

from models.base import now, today
from models.doses import Vaccination
from tests.lot_world import received_lot, record_doses


@pytest.fixture
def world(db, make_station, make_user, make_enterprise, make_persons):
    station = make_station("上报测试接种点")
    nurse = make_user("station", station)
    nurse.display_name = "王护士"
    lot = received_lot(nurse, station)
    people = make_persons(make_enterprise(), 3, status="vaccinated", station=station)
    at = now() - timedelta(days=1)
    record_doses(people[:2], lot, station, at=at, vaccinator=nurse)
    db.session.execute(insert(Vaccination), [{
        "person_id": people[2], "dose_number": 1, "product_id": lot.product_id, "station_id": station.id,
        "outcome": "not_given", "reason": "发热(体温≥37.3℃)", "at": at, "state": "valid", "created_at": at}])
    db.session.flush()
    return {"station": station, "lot": lot, "center": make_user("center"), "day": at.date()}


def test_the_pinned_release_validates_r4():
    assert fhir.resources.__fhir_version__ == "4.0.1"


def test_the_bundle_validates_and_carries_what_the_next_level_needs(db, world, login):
    client = login(world["center"])
    response = client.get(f"/center/reports/immunizations.json?day={world['day'].isoformat()}")
    assert response.mimetype == "application/fhir+json"
    data = json.loads(response.get_data(as_text=True))
    bundle = Bundle.parse_obj(data)
    immunizations = [e.resource for e in bundle.entry if e.resource.resource_type == "Immunization"]
    assert len(immunizations) == 3
    given = [i for i in immunizations if i.status == "completed"]
    refused = [i for i in immunizations if i.status == "not-done"]
    assert len(given) == 2 and len(refused) == 1
    first = given[0]
    assert first.lotNumber == world["lot"].lot_number
    assert first.expirationDate.isoformat() == world["lot"].expiry_date.isoformat()
    assert first.manufacturer.display == "北京生物制品研究所有限责任公司"
    assert first.vaccineCode.coding[0].code == "COV-INACT-VERO"
    assert first.protocolApplied[0].doseNumberPositiveInt == 1
    assert first.performer[0].actor.display == "王护士"
    assert refused[0].statusReason.text == "发热(体温≥37.3℃)"
    patients = {e.resource.id for e in bundle.entry if e.resource.resource_type == "Patient"}
    assert {i.patient.reference.split("/")[1] for i in immunizations} <= patients


def test_a_broken_immunization_is_refused_by_the_validator(db, world):
    from services.fhir_export import immunization_bundle

    data = immunization_bundle(world["day"])
    immunization = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Immunization")
    Bundle.parse_obj(data)
    immunization["protocolApplied"][0]["doseNumberPositiveInt"] = 0  # a positiveInt
    with pytest.raises(ValidationError):
        Bundle.parse_obj(data)
    immunization["protocolApplied"][0]["doseNumberPositiveInt"] = 1
    del immunization["patient"]  # 1..1
    with pytest.raises(ValidationError):
        Bundle.parse_obj(data)


def test_the_daily_report_counts_per_station_product_lot_and_dose(db, world, login):
    client = login(world["center"])
    response = client.get(f"/center/reports/daily.xlsx?day={world['day'].isoformat()}")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("日期", "接种点", "疫苗品种", "批号", "剂次", "接种人次", "未接种人次")
    assert (world["day"].isoformat(), "上报测试接种点", "新冠病毒灭活疫苗(Vero细胞)", "202611A", "第1剂", 2, 0) in rows
    assert (world["day"].isoformat(), "上报测试接种点", "新冠病毒灭活疫苗(Vero细胞)", None, "第1剂", 0, 1) in rows \
        or (world["day"].isoformat(), "上报测试接种点", "新冠病毒灭活疫苗(Vero细胞)", "", "第1剂", 0, 1) in rows
    page = client.get(f"/center/reports/?day={today().isoformat()}").get_data(as_text=True)
    assert "该日无接种记录" in page
