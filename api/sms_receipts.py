"""POST /api/v1/sms-receipts: delivery receipts an SMS gateway posts back (the 已送达 state).

Body: {"message_id": the gateway's id or our client_msg_id, "status": "delivered" | "failed",
"error": optional text}, or a list of those. Bearer token: SMS_RECEIPT_TOKEN.
"""

import hmac

from flask import current_app, jsonify, request

from api import ApiError, bp
from extensions import db
from services.sms import record_receipt

MAX_RECEIPTS = 1000


def _check_token():
    expected = current_app.config.get("SMS_RECEIPT_TOKEN")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "回执令牌无效")


def _receipts():
    body = request.get_json(silent=True)
    receipts = body if isinstance(body, list) else [body]
    if not receipts or len(receipts) > MAX_RECEIPTS:
        raise ApiError(422, "invalid", f"回执数量须为 1 至 {MAX_RECEIPTS} 条")
    for receipt in receipts:
        if not (isinstance(receipt, dict) and isinstance(receipt.get("message_id"), str)
                and 0 < len(receipt["message_id"]) <= 64 and receipt.get("status") in ("delivered", "failed")):
            raise ApiError(422, "invalid", "回执格式不正确：需要 message_id 和 status（delivered 或 failed）")
    return receipts


@bp.route("/sms-receipts", methods=("POST",))
def sms_receipts():
    _check_token()
    changed = sum(record_receipt(r["message_id"], r["status"] == "delivered", str(r.get("error") or ""))
                  for r in _receipts())
    db.session.commit()
    return jsonify(updated=changed)
