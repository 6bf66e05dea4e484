"""One log line per request and a request id on every response, with no personal data.

Each request gets an id (the proxy's `X-Request-ID` when it sends a sane one, else a
new one), echoed in the `X-Request-ID` response header, written on its log line and on
the traceback of an unhandled error, and shown to the user on the 500 page so that a
phone call to the district IT team can be matched to the log. Log lines carry the
path without its query string (searches carry ID numbers) and are scrubbed of
anything that looks like an ID number or a mobile phone number.
"""

import logging
import os
import re
import time
import traceback
import uuid

from flask import g, request, session
from werkzeug.exceptions import InternalServerError

logger = logging.getLogger("binhai.request")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{6,64}$")

# 15/18-digit resident ID numbers (last may be X) and 11-digit mainland mobiles,
# not part of a longer run of digits (ids, timestamps and ports stay readable).
_ID_NUMBER = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx](?![0-9])|(?<![0-9])[1-9][0-9]{14}(?![0-9])")
_PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
# SQLAlchemy puts the bound values of a failed statement into its message.
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL)
_PG_DETAIL = re.compile(r"DETAIL:.*?(?=\n|$)")


def scrub(text):
    """Return `text` with ID numbers, phone numbers and SQL parameters blotted out."""
    text = _SQL_PARAMETERS.sub("[parameters: (hidden)]", text)
    text = _PG_DETAIL.sub("DETAIL: (hidden)", text)
    text = _ID_NUMBER.sub("[id-number]", text)
    return _PHONE.sub("[phone]", text)


def current_request_id():
    return g.get("request_id", "-")


def init_request_log(app):
    """Log every request, tag it with a request id, and show the id on the 500 page."""
    logging.getLogger("binhai").setLevel(app.config.get("LOG_LEVEL", "INFO"))
    # First of all before-request functions, so a request refused early (CSRF) still gets its id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_log_request)
    app.context_processor(lambda: {"request_id": g.get("request_id") if g.get("show_request_id") else None})
    _wrap_server_error_page(app)
    app.log_exception = lambda exc_info: _log_exception(app, exc_info)


def _start_request():
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if _SANE_REQUEST_ID.match(offered) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _log_request(response):
    started = g.get("request_started")
    duration_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    response.headers[REQUEST_ID_HEADER] = current_request_id()
    user_id, role = _user_fields()
    logger.info(
        "request method=%s path=%s status=%d duration_ms=%.1f user=%s role=%s rid=%s pid=%d",
        request.method, scrub(request.path), response.status_code, duration_ms, user_id, role,
        current_request_id(), os.getpid(),
    )
    return response


def _user_fields():
    # Flask-Login caches the loaded user in g; do not load it just for the log line.
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        return user.id, user.role
    user_id = str(session.get("_user_id") or "").partition(":")[0] if session else ""
    return (user_id or "-"), "-"


def _wrap_server_error_page(app):
    """Let the existing 500 page show the request id (templates/message.html)."""
    handlers = app.error_handler_spec.get(None, {}).get(500, {})
    existing = handlers.get(InternalServerError)

    def server_error(error):
        g.show_request_id = True
        if existing is not None:
            return existing(error)
        return "Internal Server Error (request id " + current_request_id() + ")", 500

    app.register_error_handler(500, server_error)


def _log_exception(app, exc_info):
    text = "".join(traceback.format_exception(*exc_info))
    app.logger.error(
        "unhandled error method=%s path=%s rid=%s\n%s",
        request.method, scrub(request.path), current_request_id(), scrub(text),
    )
