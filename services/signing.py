"""The certificate signing keys (Ed25519, JWS `EdDSA`): kept in instance/, published as a JWKS.

A key set lives in one folder (SIGNING_KEYS_DIR, default instance/signing_keys):
`manifest.json` lists every key ever made with its kid, creation and expiry and, for a key
taken out of service after a leak, when it was removed; `<kid>.public.pem` holds each
public key; only the active key has a `<kid>.private.pem` (0600). Rotating makes a new
active key and deletes the old private key, so a copy of the folder taken later cannot
sign as the old key; the old public key stays published, and certificates it signed still
verify. A removed or expired key leaves the published set: what it signed no longer
verifies, here or anywhere.

The first signature on a fresh machine makes the first key, like the secret key. Several
server processes share the folder: a file lock keeps two of them from making two first
keys, and each process re-reads the manifest when it changes (after `flask keys rotate`).
"""

import base64
import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app

ALGORITHM = "EdDSA"
DEFAULT_VALID_DAYS = 3650
MANIFEST = "manifest.json"


class SigningKeyError(Exception):
    """No key can sign now (expired, missing); the message is for the operator."""


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    created_at: datetime
    expires_at: datetime
    removed_at: datetime | None
    active: bool

    def usable(self, at):
        """Whether what this key signed still verifies at `at`."""
        return self.removed_at is None and at < self.expires_at

    @property
    def state_label(self):
        if self.removed_at is not None:
            return "已移除"
        if self.expires_at <= utc_now():
            return "已过期"
        return "签发中" if self.active else "仅验证"


def utc_now():
    return datetime.now(UTC).replace(microsecond=0)


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(public_key):
    """The JWK members of an Ed25519 public key (RFC 8037)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}


def thumbprint_kid(public_key):
    """A kid derived from the key itself: its RFC 7638 thumbprint, in hex (a kid never starts with
    '-', which a command line would take for an option), shortened to 16 characters."""
    members = public_jwk(public_key)
    canonical = json.dumps({k: members[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class KeyStore:
    """The key folder: read the manifest, make, rotate and remove keys, sign, publish."""

    def __init__(self, folder, valid_days=DEFAULT_VALID_DAYS):
        self.folder = Path(folder)
        self.valid_days = valid_days
        self._cache = None  # (manifest mtime, manifest, {kid: public key})

    # ------------------------------------------------------------ files

    @contextmanager
    def _locked(self):
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_manifest(self):
        path = self.folder / MANIFEST
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return {"active": None, "keys": {}}, {}
        if self._cache and self._cache[0] == mtime:
            return self._cache[1], self._cache[2]
        manifest = json.loads(path.read_text())
        publics = {
            kid: serialization.load_pem_public_key((self.folder / f"{kid}.public.pem").read_bytes())
            for kid, entry in manifest["keys"].items() if entry.get("removed_at") is None
        }
        self._cache = (mtime, manifest, publics)
        return manifest, publics

    def _write_manifest(self, manifest):
        path = self.folder / MANIFEST
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        os.replace(temporary, path)  # readers see the old or the new manifest, never half of one
        self._cache = None

    def _write_private(self, kid, private_key):
        pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        path = self.folder / f"{kid}.private.pem"
        with open(path, "wb", opener=lambda p, flags: os.open(p, flags, 0o600)) as file:
            file.write(pem)

    def _new_key(self, manifest, valid_days):
        private_key = Ed25519PrivateKey.generate()
        kid = thumbprint_kid(private_key.public_key())
        public_pem = private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        (self.folder / f"{kid}.public.pem").write_bytes(public_pem)
        self._write_private(kid, private_key)
        created = utc_now()
        manifest["keys"][kid] = {
            "created_at": created.isoformat(),
            "expires_at": (created + timedelta(days=valid_days or self.valid_days)).isoformat(),
            "removed_at": None,
        }
        previous = manifest.get("active")
        manifest["active"] = kid
        if previous:
            (self.folder / f"{previous}.private.pem").unlink(missing_ok=True)
        return kid

    # ------------------------------------------------------------ operations

    def key_infos(self):
        """Every key of the manifest, newest first."""
        manifest, _ = self._read_manifest()
        infos = [
            KeyInfo(kid, datetime.fromisoformat(entry["created_at"]), datetime.fromisoformat(entry["expires_at"]),
                    datetime.fromisoformat(entry["removed_at"]) if entry.get("removed_at") else None,
                    kid == manifest.get("active"))
            for kid, entry in manifest["keys"].items()
        ]
        return sorted(infos, key=lambda info: info.created_at, reverse=True)

    def ensure_key(self):
        """Make the first key when the folder has none; return the active kid."""
        manifest, _ = self._read_manifest()
        if manifest.get("active"):
            return manifest["active"]
        with self._locked():
            manifest, _ = self._read_manifest()  # another process may have made it meanwhile
            if not manifest.get("active"):
                self._new_key(manifest, None)
                self._write_manifest(manifest)
            return manifest["active"]

    def rotate(self, valid_days=None):
        """Make a new active key; the old one keeps verifying until it expires. Return the new kid."""
        with self._locked():
            manifest, _ = self._read_manifest()
            kid = self._new_key(manifest, valid_days)
            self._write_manifest(manifest)
            return kid

    def remove(self, kid):
        """Take a key out of the published set (a leaked key): what it signed no longer verifies."""
        with self._locked():
            manifest, _ = self._read_manifest()
            entry = manifest["keys"].get(kid)
            if entry is None:
                raise SigningKeyError(f"没有密钥 {kid}")
            entry["removed_at"] = utc_now().isoformat()
            (self.folder / f"{kid}.private.pem").unlink(missing_ok=True)
            if manifest.get("active") == kid:
                manifest["active"] = None  # the next signature makes a fresh key
            self._write_manifest(manifest)

    def sign(self, claims):
        """Return the compact JWS of `claims`, signed by the active key (kid in the header)."""
        kid = self.ensure_key()
        info = next(key for key in self.key_infos() if key.kid == kid)
        if not info.usable(utc_now()):
            raise SigningKeyError("签发密钥已过期，请管理员运行 flask --app app keys rotate")
        private_key = serialization.load_pem_private_key((self.folder / f"{kid}.private.pem").read_bytes(), None)
        return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "JWT"})

    def jwks(self, at=None):
        """The published key set: every key neither removed nor expired at `at`."""
        at = at or utc_now()
        _, publics = self._read_manifest()
        usable = {info.kid for info in self.key_infos() if info.usable(at)}
        return {"keys": [
            {**public_jwk(publics[kid]), "kid": kid, "alg": ALGORITHM, "use": "sig"}
            for kid in sorted(usable)
        ]}

    def published_kids(self, at=None):
        return {key["kid"] for key in self.jwks(at)["keys"]}

    def verify(self, token, at=None):
        """Return the claims of `token` when a published key signed it; raise jwt.PyJWTError otherwise."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise jwt.InvalidAlgorithmError("unexpected algorithm")
        published = {key["kid"]: key for key in self.jwks(at)["keys"]}
        jwk = published.get(header.get("kid"))
        if jwk is None:
            raise jwt.InvalidKeyError("unknown, removed or expired key")
        return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[ALGORITHM],
                          options={"require": ["iat", "jti"], "verify_iat": False})


def key_store():
    """The app's key store (one per process, re-reading the folder when it changes)."""
    store = current_app.extensions.get("signing_keys")
    if store is None:
        folder = current_app.config.get("SIGNING_KEYS_DIR") or Path(current_app.instance_path) / "signing_keys"
        store = KeyStore(folder, current_app.config.get("SIGNING_KEY_VALID_DAYS", DEFAULT_VALID_DAYS))
        current_app.extensions["signing_keys"] = store
    return store
