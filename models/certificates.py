"""Vaccination certificates (接种凭证): issued from dose records only, revoked by derivation.

A certificate is a JWS (services/signing.py) over the doses of one person that are `given`,
`valid` and carry the desk's signature: no other path makes one. Each issue is recorded
(which doses, which key, when). Nobody revokes a certificate by hand: it is revoked when
one of its doses is no longer `valid` (corrected or cancelled by the dose record) or when a
newer certificate of the same person superseded it. Both are read from the tables, so the
dose code need not know certificates exist.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC

import jwt
from sqlalchemy import exists, or_, select, union, update

from extensions import db
from models.audit import record_event
from models.base import CAMPAIGN_TZ, now
from models.doses import GIVEN, VALID, Vaccination
from models.errors import DomainError
from models.org import Station
from models.vaccines import VaccineProduct

# The certificate's "iss" claim: signed into every token issued, so data of the certificates.
ISSUER = "滨海新区疫苗接种管理系统"
VALID_RESULT, INVALID_RESULT, REVOKED_RESULT = "valid", "invalid", "revoked"  # worded in admin_views/labels.py


class CertificateError(DomainError):
    """No certificate can be issued; its code is worded by admin_views/labels.py."""


class Certificate(db.Model):
    __tablename__ = "certificate"
    id = db.Column(db.Integer, primary_key=True)
    # The token's `jti`: random, so a certificate number tells nothing about how many exist.
    public_id = db.Column(db.String(32), nullable=False, unique=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True)
    kid = db.Column(db.String(32), nullable=False)
    issued_at = db.Column(db.DateTime, nullable=False, default=now)
    superseded_by_id = db.Column(db.Integer, db.ForeignKey("certificate.id"))
    token = db.Column(db.Text, nullable=False)

    person = db.relationship("Person")
    doses = db.relationship("CertificateDose", cascade="all, delete-orphan")

    @property
    def vaccination_ids(self):
        return sorted(link.vaccination_id for link in self.doses)


class CertificateDose(db.Model):
    """One dose record a certificate states."""

    __tablename__ = "certificate_dose"
    certificate_id = db.Column(db.Integer, db.ForeignKey("certificate.id", ondelete="CASCADE"), primary_key=True)
    vaccination_id = db.Column(db.Integer, db.ForeignKey("vaccination.id"), primary_key=True, index=True)


# ---------------------------------------------------------------- what may be certified

def certifiable(query):
    """Narrow a select over Vaccination to the rows a certificate may state."""
    return query.where(Vaccination.outcome == GIVEN, Vaccination.state == VALID,
                       Vaccination.signature_png.is_not(None))


def certifiable_doses(person_id):
    """The person's doses a certificate may state, in the order given, with product and station."""
    query = (
        select(Vaccination, VaccineProduct, Station)
        .outerjoin(VaccineProduct, VaccineProduct.id == Vaccination.product_id)
        .outerjoin(Station, Station.id == Vaccination.station_id)
        .where(Vaccination.person_id == person_id)
        .order_by(Vaccination.at, Vaccination.dose_number, Vaccination.id)
    )
    return db.session.execute(certifiable(query)).all()


def mask_id_number(value):
    """120107********123X, as every list shows it (admin_views.base masks the same way)."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def dose_claim(vaccination, product, station):
    return {
        "dose": vaccination.dose_number,
        "booster": bool(vaccination.is_booster),
        "date": vaccination.at.date().isoformat(),
        "product": product.name if product else (vaccination.product_name or ""),
        "manufacturer": product.manufacturer if product else "",
        "lot": vaccination.lot_number or "",
        "station": station.name if station else "",
    }


def certificate_claims(person, rows, public_id, issued_at):
    issued_utc = issued_at.replace(tzinfo=CAMPAIGN_TZ).astimezone(UTC)
    return {
        "iss": ISSUER,
        "jti": public_id,
        "iat": int(issued_utc.timestamp()),
        "name": person.name,
        "id_number": mask_id_number(person.id_number),
        "doses": [dose_claim(*row) for row in rows],
    }


# ---------------------------------------------------------------- revocation (derived)

def _dose_no_longer_valid():
    return exists(
        select(CertificateDose.vaccination_id)
        .join(Vaccination, Vaccination.id == CertificateDose.vaccination_id)
        .where(CertificateDose.certificate_id == Certificate.id, Vaccination.state != VALID)
    )


def revoked_condition():
    """A condition on Certificate: superseded, or stating a dose that was corrected or cancelled."""
    return or_(Certificate.superseded_by_id.is_not(None), _dose_no_longer_valid())


def revocation_reason(certificate):
    """Why `certificate` is revoked (a code the UI words), or None while it stands."""
    if certificate.superseded_by_id is not None:
        return "superseded"
    changed = db.session.execute(
        select(_dose_no_longer_valid().where(Certificate.id == certificate.id))
    ).scalar()
    return "dose_corrected" if changed else None


def revoked_public_ids():
    """The ids of every revoked certificate, streamed (the published revocation list).

    Two selects joined by UNION rather than one OR over every certificate: the superseded ones,
    and the few whose dose record changed (found from the dose side), each on its own index.
    """
    superseded = select(Certificate.id, Certificate.public_id).where(Certificate.superseded_by_id.is_not(None))
    changed = (
        select(Certificate.id, Certificate.public_id)
        .join(CertificateDose, CertificateDose.certificate_id == Certificate.id)
        .join(Vaccination, Vaccination.id == CertificateDose.vaccination_id)
        .where(Vaccination.state != VALID)
    )
    revoked = union(superseded, changed).subquery()
    return db.session.execute(
        select(revoked.c.public_id).order_by(revoked.c.id).execution_options(yield_per=5000)
    ).scalars()


# ---------------------------------------------------------------- issuing

def current_certificate(person_id):
    """The person's newest certificate that is not revoked, or None."""
    return db.session.execute(
        select(Certificate).where(Certificate.person_id == person_id, ~revoked_condition())
        .order_by(Certificate.id.desc()).limit(1)
    ).scalar_one_or_none()


@dataclass
class IssueResult:
    certificate: Certificate
    new: bool


def issue_certificate(actor, person, keys):
    """Return the person's standing certificate, issuing a new one when their doses changed.

    `keys` is the key store (services.signing.KeyStore). A standing certificate whose key was
    removed or expired is issued anew too. Earlier certificates of the person are superseded
    in the same transaction, so exactly one stands at a time.
    """
    rows = certifiable_doses(person.id)
    if not rows:
        raise CertificateError("no_certifiable_dose")
    standing = current_certificate(person.id)
    dose_ids = sorted(row[0].id for row in rows)
    if standing is not None and standing.vaccination_ids == dose_ids and standing.kid in keys.published_kids():
        return IssueResult(standing, new=False)
    public_id = secrets.token_urlsafe(12)
    issued_at = now()
    token = keys.sign(certificate_claims(person, rows, public_id, issued_at))
    kid = jwt.get_unverified_header(token)["kid"]
    certificate = Certificate(public_id=public_id, person_id=person.id, kid=kid, issued_at=issued_at, token=token)
    certificate.doses = [CertificateDose(vaccination_id=dose_id) for dose_id in dose_ids]
    db.session.add(certificate)
    db.session.flush()
    db.session.execute(
        update(Certificate)
        .where(Certificate.person_id == person.id, Certificate.id != certificate.id,
               Certificate.superseded_by_id.is_(None))
        .values(superseded_by_id=certificate.id)
        .execution_options(synchronize_session=False)
    )
    record_event(actor, "certificate_issued", target_type="person", target_id=person.id,
                 detail=f"certificate={public_id} kid={kid} vaccinations={','.join(map(str, dose_ids))}")
    db.session.flush()
    return IssueResult(certificate, new=True)


def certificate_by_public_id(public_id):
    return db.session.execute(
        select(Certificate).where(Certificate.public_id == public_id)
    ).scalar_one_or_none()


# ---------------------------------------------------------------- verifying

MAX_TOKEN_LENGTH = 8000


@dataclass
class Verdict:
    """The result of a check and why (codes, worded in admin_views/labels.py), with what was verified."""

    result: str
    reason: str = ""
    claims: dict | None = None
    certificate: Certificate | None = None


def verify_certificate(token, verify_signature):
    """Judge a token read from a QR code: valid, invalid (with why) or revoked (with why).

    `verify_signature(token) -> claims` raises for anything the published keys did not sign.
    The claims are shown only when the signature holds: an invalid token's text is not news.
    """
    token = (token or "").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        return Verdict(INVALID_RESULT, "not_a_certificate")
    try:
        claims = verify_signature(token)
    except jwt.InvalidKeyError:
        return Verdict(INVALID_RESULT, "key_retired")
    except (jwt.PyJWTError, ValueError, TypeError):
        return Verdict(INVALID_RESULT, "signature_invalid")
    certificate = certificate_by_public_id(str(claims.get("jti")))
    if certificate is None:
        return Verdict(INVALID_RESULT, "not_registered")
    reason = revocation_reason(certificate)
    if reason:
        return Verdict(REVOKED_RESULT, reason, claims, certificate)
    return Verdict(VALID_RESULT, "standing", claims, certificate)
