"""The JSON API for programs (the desk card-reader agent), under /api/v1.

Bearer-token authentication instead of a session, so the blueprint is exempt from
CSRF. Every error is JSON with a Chinese message and a stable `code`.
"""

from flask import Blueprint, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from extensions import csrf, db

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


class ApiError(Exception):
    """An error answered as JSON: HTTP status, stable code, Chinese message."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status, code, message, headers=None):
    response = jsonify(error=message, code=code)
    response.status_code = status
    response.headers.update(headers or {})
    return response


@bp.errorhandler(ApiError)
def handle_api_error(error):
    return error_response(error.status, error.code, error.message, error.headers)


@bp.errorhandler(OperationalError)
def handle_database_down(error):
    db.session.rollback()
    return error_response(503, "unavailable", "服务暂不可用，请稍后重试", {"Retry-After": "5"})


HTTP_ERRORS = {
    400: ("bad_request", "请求格式不正确"),
    405: ("method_not_allowed", "不支持的请求方法"),
    413: ("too_large", "请求内容过大"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
}


def handle_http_error(error):
    code, message = HTTP_ERRORS.get(error.code, ("error", error.description or "请求失败"))
    response = error_response(error.code, code, message)
    if error.code == 429:
        response.headers.setdefault("Retry-After", "1")
    return response


# Flask prefers the app's handler for a status code over a blueprint's generic one:
# register each status the app renders as HTML page on the blueprint too.
bp.register_error_handler(HTTPException, handle_http_error)
for status in HTTP_ERRORS:
    bp.register_error_handler(status, handle_http_error)


from api import card_reads, sms_receipts  # noqa: E402,F401 - registers the routes on bp
