"""Anyone checks a certificate: /verify, the published keys and revocation list, and `flask keys`.

/.well-known/jwks.json and /.well-known/revoked.json are all a third party needs to check
a certificate without asking us; /verify does the same check for a person holding a
phone: it reads the QR code (camera or a photo, in static/js/verify.js) and posts the
token, and the answer is 有效 / 无效 / 已撤销 with what the certificate states.
"""

import json

import click
from flask import Blueprint, Response, render_template, stream_with_context
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from extensions import limiter
from models.certificates import ISSUER, MAX_TOKEN_LENGTH, revoked_public_ids, verify_certificate
from services.signing import SigningKeyError, key_store, utc_now

bp = Blueprint("verify", __name__, cli_group="keys")

PUBLISHED_MAX_AGE = 300  # seconds a verifier may cache the keys and the revocation list
REVOKED_CHUNK = 5000  # ids per chunk of the streamed list: one write per few thousand, not one per id


class VerifyForm(FlaskForm):
    token = TextAreaField("凭证内容", validators=[Length(max=MAX_TOKEN_LENGTH * 2)])


def _published(response):
    """Public documents: cacheable for a few minutes, readable by a verifier on another origin."""
    response.headers["Cache-Control"] = f"public, max-age={PUBLISHED_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/.well-known/jwks.json")
def jwks():
    store = key_store()
    store.ensure_key()
    return _published(Response(json.dumps(store.jwks()), mimetype="application/jwk-set+json"))


@bp.route("/.well-known/revoked.json")
def revoked():
    """Every revoked certificate id, streamed: the list grows with the campaign."""
    def generate():
        yield json.dumps({"issuer": ISSUER, "generated_at": utc_now().isoformat()}, ensure_ascii=False)[:-1]
        yield ', "revoked": ['
        separator, batch = "", []
        for public_id in revoked_public_ids():
            batch.append(json.dumps(public_id))
            if len(batch) == REVOKED_CHUNK:
                yield separator + ",".join(batch)
                separator, batch = ",", []
        if batch:
            yield separator + ",".join(batch)
        yield "]}"

    return _published(Response(stream_with_context(generate()), mimetype="application/json"))


@bp.route("/verify", methods=("GET", "POST"))
@limiter.limit("60 per minute", methods=["POST"])
def verify():
    form = VerifyForm()
    verdict = None
    if form.validate_on_submit():
        verdict = verify_certificate(form.token.data, key_store().verify)
    elif form.errors:
        verdict = verify_certificate("", key_store().verify)
    response = Response(render_template("public/verify.html", form=form, verdict=verdict))
    # The page may use the camera (the site-wide policy forbids it elsewhere).
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=(), payment=()"
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- flask --app app keys …

@bp.cli.command("list")
def list_keys():
    """List the signing keys: kid, created, expires, state."""
    store = key_store()
    store.ensure_key()
    for info in store.key_infos():
        click.echo(f"{info.kid}  创建 {info.created_at:%Y-%m-%d}  到期 {info.expires_at:%Y-%m-%d}  {info.state_label}")


@bp.cli.command("rotate")
@click.option("--valid-days", type=click.IntRange(1, 36500), help="How long the new key's signatures verify.")
def rotate_keys(valid_days):
    """Make a new signing key; earlier keys keep verifying what they signed."""
    kid = key_store().rotate(valid_days)
    click.echo(f"新签发密钥 {kid} 已启用；旧密钥仍用于验证，直至到期")


@bp.cli.command("remove")
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove_key(kid, yes):
    """Withdraw a key (leaked): every certificate it signed stops verifying."""
    if not yes:
        click.confirm(f"移除密钥 {kid}？它签发的所有凭证将验证为无效", abort=True)
    try:
        key_store().remove(kid)
    except SigningKeyError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"密钥 {kid} 已移除，其签发的凭证验证为无效；受影响的人员重新打开凭证页即获新凭证")
