"""接种凭证: signed from dose records only, checked by an independent library from the published keys."""

import json
import os
import stat
from datetime import datetime, timedelta
from pathlib import Path

import jwt
import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import JWException
from sqlalchemy import func, select, update

from admin_views import labels
from models.certificates import (
    Certificate,
    CertificateError,
    issue_certificate,
    verify_certificate,
)
from models.doses import Vaccination
from models.person import Person
from models.vaccines import seed_vaccine_products
from models.workflow import PersonActor, apply_transition
from services.signing import KeyStore, key_store

REPO = Path(__file__).resolve().parents[1]
PRODUCT = "新冠病毒灭活疫苗(Vero细胞)"


@pytest.fixture
def fresh_keys(app, tmp_path):
    """A key folder of this test's own, so rotating or removing keys leaves other tests alone."""
    saved = app.config.get("SIGNING_KEYS_DIR"), app.extensions.pop("signing_keys", None)
    app.config["SIGNING_KEYS_DIR"] = str(tmp_path / "keys")
    yield tmp_path / "keys"
    app.config["SIGNING_KEYS_DIR"] = saved[0]
    app.extensions.pop("signing_keys", None)
    if saved[1] is not None:
        app.extensions["signing_keys"] = saved[1]


@pytest.fixture
def vaccinated_person(db, make_enterprise, make_station, make_persons):
    """A person, a station and a way to record doses given to them at the desk."""
    products = seed_vaccine_products()
    station = make_station("新河街社区卫生服务中心接种点")
    [person_id] = make_persons(make_enterprise(), status="vaccinated", station=station, name="李晓梅")

    def record_dose(dose_number=1, outcome="given", state="valid", signature=b"\x89PNG signature",
                    at=None, lot="202611A"):
        row = Vaccination(person_id=person_id, dose_number=dose_number, product_id=products[PRODUCT].id,
                          lot_number=lot, station_id=station.id, outcome=outcome, state=state,
                          reason=None if outcome == "given" else "发热", signature_png=signature,
                          at=at or datetime(2026, 11, 3, 9, 30) + timedelta(days=28 * (dose_number - 1)))
        db.session.add(row)
        db.session.flush()
        return row

    person = db.session.get(Person, person_id)
    person.record_dose = record_dose
    return person


def issue(person):
    result = issue_certificate(PersonActor(person.id), person, key_store())
    return result.certificate


def published_keys(client):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return jwk.JWKSet.from_json(response.get_data(as_text=True))


def jwcrypto_claims(token, keyset):
    """Verify with jwcrypto only (the project signs with pyjwt), given the published key set."""
    checked = jws.JWS()
    checked.deserialize(token)
    kid = checked.jose_header["kid"]
    checked.verify(keyset.get_key(kid), alg="EdDSA")
    return json.loads(checked.payload)


def verdict_on_page(client, token):
    page = client.post("/verify", data={"token": token}).get_data(as_text=True)
    for label in ("有效", "无效", "已撤销"):
        if f'<div class="verdict-label">{label}</div>' in page:
            return label, page
    raise AssertionError("no verdict on the page")


# ---------------------------------------------------------------- signing and publishing

def test_an_independent_library_verifies_a_certificate_from_the_published_keys_alone(
        client, db, vaccinated_person, fresh_keys):
    dose = vaccinated_person.record_dose()
    certificate = issue(vaccinated_person)
    db.session.commit()

    claims = jwcrypto_claims(certificate.token, published_keys(client))
    assert claims["name"] == "李晓梅"
    assert claims["id_number"] == vaccinated_person.id_number[:6] + "********" + vaccinated_person.id_number[-4:]
    assert claims["doses"] == [{
        "dose": 1, "booster": False, "date": "2026-11-03", "product": PRODUCT,
        "manufacturer": "北京生物制品研究所有限责任公司", "lot": "202611A", "station": "新河街社区卫生服务中心接种点",
    }]
    assert claims["jti"] == certificate.public_id
    assert jwt.get_unverified_header(certificate.token)["kid"] == certificate.kid
    assert certificate.vaccination_ids == [dose.id]
    assert verdict_on_page(client, certificate.token)[0] == "有效"


def test_one_changed_byte_makes_the_certificate_invalid(client, db, vaccinated_person, fresh_keys):
    vaccinated_person.record_dose()
    token = issue(vaccinated_person).token
    db.session.commit()
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["name"] = "王小明"
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    flipped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    keys = published_keys(client)
    for tampered in (f"{header}.{forged_payload}.{signature}", f"{header}.{flipped}.{signature}",
                     f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BA'}"):
        with pytest.raises(JWException):
            jwcrypto_claims(tampered, keys)
        label, page = verdict_on_page(client, tampered)
        assert label == "无效"
        assert "王小明" not in page and "李晓梅" not in page  # an invalid token's claims are not shown


def test_garbage_and_oversized_input_answer_invalid_not_an_error(client):
    for text in ("", "hello", "a.b.c", "é.é.é", "x" * 20000, "eyJhbGciOiJub25lIn0.e30."):
        response = client.post("/verify", data={"token": text})
        assert response.status_code == 200
        assert '<div class="verdict-label">无效</div>' in response.get_data(as_text=True)


def test_an_unsigned_or_foreign_token_is_invalid(client, db, vaccinated_person, fresh_keys):
    vaccinated_person.record_dose()
    certificate = issue(vaccinated_person)
    db.session.commit()
    claims = jwt.decode(certificate.token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": certificate.kid})
    foreign = KeyStore(fresh_keys.parent / "elsewhere").sign(claims)
    hmac_token = jwt.encode(claims, "a guessed shared secret of 32 bytes!", algorithm="HS256",
                            headers={"kid": certificate.kid})
    for token in (unsigned, foreign, hmac_token):
        assert verdict_on_page(client, token)[0] == "无效"


def test_keys_are_made_on_first_use_into_the_instance_folder_private_key_unreadable_to_others(app, fresh_keys):
    assert not fresh_keys.exists()
    kid = key_store().ensure_key()
    private = fresh_keys / f"{kid}.private.pem"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert key_store().ensure_key() == kid  # the second call keeps the key


# ---------------------------------------------------------------- revocation

def test_a_corrected_dose_revokes_its_certificate_and_the_list_publishes_it(client, db, vaccinated_person,
                                                                              fresh_keys):
    dose = vaccinated_person.record_dose()
    certificate = issue(vaccinated_person)
    db.session.commit()
    assert client.get("/.well-known/revoked.json").get_json()["revoked"] == []

    db.session.execute(update(Vaccination).where(Vaccination.id == dose.id).values(state="corrected"))
    db.session.commit()
    label, page = verdict_on_page(client, certificate.token)
    assert label == "已撤销"
    assert "接种记录已更正或作废" in page
    assert client.get("/.well-known/revoked.json").get_json()["revoked"] == [certificate.public_id]
    # The signature itself still holds: revocation is what the list says, not a broken signature.
    jwcrypto_claims(certificate.token, published_keys(client))


def test_a_new_dose_supersedes_the_earlier_certificate(client, db, vaccinated_person, fresh_keys):
    vaccinated_person.record_dose(1)
    first = issue(vaccinated_person)
    assert issue(vaccinated_person).id == first.id  # nothing changed: the same certificate
    vaccinated_person.record_dose(2)
    second = issue(vaccinated_person)
    db.session.commit()

    assert second.id != first.id
    assert [d["dose"] for d in jwcrypto_claims(second.token, published_keys(client))["doses"]] == [1, 2]
    label, page = verdict_on_page(client, first.token)
    assert label == "已撤销" and "已被更新的接种凭证取代" in page
    assert verdict_on_page(client, second.token)[0] == "有效"
    assert client.get("/.well-known/revoked.json").get_json()["revoked"] == [first.public_id]


def test_the_revocation_list_streams_every_id_across_chunks(client, db, vaccinated_person, fresh_keys,
                                                           monkeypatch):
    from public_forms import verify

    monkeypatch.setattr(verify, "REVOKED_CHUNK", 2)
    issued = []
    for dose in range(1, 6):
        vaccinated_person.record_dose(dose)
        issued.append(issue(vaccinated_person).public_id)
    db.session.commit()
    published = client.get("/.well-known/revoked.json").get_json()
    assert published["revoked"] == issued[:-1]  # each superseded by the next; the newest stands
    assert published["issuer"] == "滨海新区疫苗接种管理系统"


def test_a_cancelled_dose_leaves_the_other_doses_on_a_new_certificate(client, db, vaccinated_person, fresh_keys):
    vaccinated_person.record_dose(1)
    wrong = vaccinated_person.record_dose(2)
    both = issue(vaccinated_person)
    db.session.execute(update(Vaccination).where(Vaccination.id == wrong.id).values(state="cancelled"))
    remaining = issue(vaccinated_person)
    db.session.commit()
    assert verdict_on_page(client, both.token)[0] == "已撤销"
    assert [d["dose"] for d in jwcrypto_claims(remaining.token, published_keys(client))["doses"]] == [1]
    assert verdict_on_page(client, remaining.token)[0] == "有效"


# ---------------------------------------------------------------- issued only from a signed dose record

@pytest.mark.parametrize("outcome, state, signature", [
    ("not_given", "valid", None),
    ("not_given", "valid", b"\x89PNG"),
    ("given", "valid", None),
    ("given", "corrected", b"\x89PNG"),
    ("given", "cancelled", b"\x89PNG"),
])
def test_no_certificate_without_a_given_valid_signed_dose(db, vaccinated_person, fresh_keys, outcome, state,
                                                          signature):
    vaccinated_person.record_dose(outcome=outcome, state=state, signature=signature)
    with pytest.raises(CertificateError):
        issue(vaccinated_person)
    assert db.session.execute(select(func.count(Certificate.id))).scalar_one() == 0


def test_a_certificate_states_only_the_signed_given_valid_doses(client, db, vaccinated_person, fresh_keys):
    vaccinated_person.record_dose(1, outcome="not_given", signature=None)
    given = vaccinated_person.record_dose(1, at=datetime(2026, 11, 10, 10, 0))
    vaccinated_person.record_dose(2, signature=None)
    certificate = issue(vaccinated_person)
    db.session.commit()
    assert certificate.vaccination_ids == [given.id]
    assert [d["date"] for d in jwcrypto_claims(certificate.token, published_keys(client))["doses"]] == ["2026-11-10"]


def test_the_exit_desk_record_is_what_the_certificate_states(client, db, make_enterprise, make_station, make_slot,
                                                             make_persons, make_user, fresh_keys):
    """The dose confirmed at the exit desk (the workflow writes the record) is certified as recorded."""
    seed_vaccine_products()
    station = make_station("新河街社区卫生服务中心接种点")
    [person_id] = make_persons(make_enterprise(), status="checked_in", station=station, slot=make_slot(station))
    desk = make_user("station", station)
    apply_transition("vaccinate", desk, ids=[person_id],
                     extra={"vaccine_product": PRODUCT, "vaccine_lot": "202612C", "signature_png": b"\x89PNG"})
    person = db.session.get(Person, person_id)
    certificate = issue(person)
    db.session.commit()
    [dose] = jwcrypto_claims(certificate.token, published_keys(client))["doses"]
    assert (dose["dose"], dose["product"], dose["lot"], dose["station"]) == (1, PRODUCT, "202612C", station.name)
    assert person.status == "due_next"  # a two-dose course: the certificate states the first dose


def test_only_the_certificate_operation_creates_certificates():
    """No other module writes the certificate table (the rule of the dose record, enforced by reading)."""
    writers = []
    for path in REPO.rglob("*.py"):
        if any(part in (".venv", "tests", "migrations", "bench") for part in path.parts):
            continue
        text = path.read_text(encoding="utf-8")
        if "Certificate(" in text or "insert(Certificate" in text or "CertificateDose(" in text:
            writers.append(path.relative_to(REPO).as_posix())
    assert writers == ["models/certificates.py"]


# ---------------------------------------------------------------- key rotation, removal, expiry

def test_after_rotation_old_certificates_still_verify_and_new_ones_use_the_new_key(client, db, vaccinated_person,
                                                                                   fresh_keys, app):
    vaccinated_person.record_dose(1)
    old = issue(vaccinated_person)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert not (fresh_keys / f"{old.kid}.private.pem").exists()  # the old key can no longer sign

    vaccinated_person.record_dose(2)
    new = issue(vaccinated_person)
    db.session.commit()
    assert new.kid != old.kid
    keys = published_keys(client)
    assert {key["kid"] for key in json.loads(keys.export(private_keys=False))["keys"]} == {old.kid, new.kid}
    jwcrypto_claims(old.token, keys)
    jwcrypto_claims(new.token, keys)
    assert verdict_on_page(client, new.token)[0] == "有效"
    listing = app.test_cli_runner().invoke(args=["keys", "list"]).output
    assert f"{new.kid}" in listing and "签发中" in listing and "仅验证" in listing


def test_a_removed_key_invalidates_what_it_signed_and_the_next_certificate_is_signed_anew(
        client, db, vaccinated_person, fresh_keys, app):
    vaccinated_person.record_dose(1)
    old = issue(vaccinated_person)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["keys", "remove", old.kid, "--yes"])
    assert result.exit_code == 0, result.output

    keys = published_keys(client)
    assert old.kid not in {key["kid"] for key in json.loads(keys.export(private_keys=False))["keys"]}
    with pytest.raises(JWException):
        jwcrypto_claims(old.token, keys)
    label, page = verdict_on_page(client, old.token)
    assert label == "无效" and "签发密钥已失效" in page

    reissued = issue(vaccinated_person)  # the person opens their certificate again
    db.session.commit()
    assert reissued.kid != old.kid
    assert verdict_on_page(client, reissued.token)[0] == "有效"
    assert app.test_cli_runner().invoke(args=["keys", "remove", "nosuchkey", "--yes"]).exit_code != 0


def test_an_expired_key_no_longer_verifies_nor_signs(db, vaccinated_person, fresh_keys, app):
    store = key_store()
    store.rotate(valid_days=30)
    vaccinated_person.record_dose(1)
    certificate = issue(vaccinated_person)
    db.session.commit()
    later = datetime.now().astimezone() + timedelta(days=31)

    assert store.verify(certificate.token)  # today
    assert certificate.kid not in store.published_kids(at=later)
    verdict = verify_certificate(certificate.token, lambda token: store.verify(token, at=later))
    assert verdict.result == "invalid" and "已过期" in labels.CERTIFICATE_REASONS[verdict.reason]
