"""QR code images for the registration page and each enterprise's employee form."""

import io

import qrcode
from flask import current_app, has_request_context, request, send_file, url_for


def public_url(endpoint, **values):
    """An absolute URL under PUBLIC_BASE_URL, or under the host of the current request.

    Texts are also worded outside a request (the worker, a CLI command, a booking in a
    test thread): the path is then built from the URL map alone.
    """
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not has_request_context():
        path = current_app.url_map.bind("localhost").build(endpoint, values)
        return (base or "").rstrip("/") + path
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return request.host_url.rstrip("/") + url_for(endpoint, **values)


def qr_png(data, box_size=8, border=4):
    """Return PNG bytes of a QR code holding `data`."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def employee_form_url(enterprise):
    """The absolute URL an enterprise's own QR code opens (its employee form)."""
    return public_url("employee.form", token=enterprise.qr_token)


def enterprise_qr_response(enterprise, download=False):
    """The PNG of an enterprise's own QR code, inline or as a download named after the company.

    send_file writes the RFC 5987 `filename*` for the Chinese name, with an ASCII fallback.
    """
    png = qr_png(employee_form_url(enterprise), box_size=10)
    response = send_file(io.BytesIO(png), mimetype="image/png", as_attachment=download,
                         download_name=f"{enterprise.name}-企业专属二维码.png", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
