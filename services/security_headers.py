"""Security headers on every response: a strict Content-Security-Policy and its companions.

The policy allows scripts only from our own origin, plus inline scripts that carry this
request's nonce (Flask-Admin renders a few, with `admin_csp_nonce_attribute`, when a
feature such as modal forms is on; our own templates have none: JavaScript lives in
static/js/). Styles come only from our own files: no template uses a `style=` attribute,
so `style-src` needs no 'unsafe-inline' (CSSOM changes made by scripts are not affected).
Pages may not be framed (frame-ancestors and X-Frame-Options), responses are not
content-sniffed, a referrer leaves only our own origin (the employee form's URL holds an
enterprise's token), and a signed-in user's pages are not stored by caches.
"""

import secrets

from flask import g, request


def csp_nonce():
    """The nonce of this request's Content-Security-Policy (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(nonce):
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def add_security_headers(response):
    response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    static = request.endpoint is not None and request.endpoint.endswith("static")
    # Read the user the request already loaded: loading it here could need a database that is down.
    user = g.get("_login_user")
    if not static and user is not None and user.is_authenticated:
        # Lists and exports of personal data stay out of shared and browser caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def forget_nonce():
    """A fresh nonce per request, also where requests share one app context (tests, CLI)."""
    g.pop("csp_nonce", None)


def init_security_headers(app):
    """Send the headers on every response; templates get `csp_nonce()` for inline scripts."""
    app.before_request(forget_nonce)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    for console in app.extensions.get("consoles", {}).values():
        console.csp_nonce_generator = csp_nonce
