"""The 接种凭证 as a picture (PNG) and as a printable PDF page, with its QR code.

Drawn with Pillow in the CJK font of CERTIFICATE_FONT (fonts-wqy-microhei, installed by
scripts/install-system-packages.sh). The QR code holds the signed token and nothing else:
what the picture prints beside it is for the eye; /verify trusts only the token.
"""

import io
import logging

import qrcode
from flask import current_app
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

WIDTH = 1080
MARGIN = 60
INK = (33, 37, 41)
MUTED = (108, 117, 125)
BRAND = (11, 83, 148)


def token_qr_image(token, box_size=6):
    """The QR code of a token: error correction M (a phone photo of a screen still reads), L for
    a long course (four doses and more) so the code stays within QR version 40."""
    level = qrcode.constants.ERROR_CORRECT_M if len(token) <= 2000 else qrcode.constants.ERROR_CORRECT_L
    code = qrcode.QRCode(error_correction=level, box_size=box_size, border=4)
    code.add_data(token)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def token_qr_png(token):
    buffer = io.BytesIO()
    token_qr_image(token).save(buffer, format="PNG")
    return buffer.getvalue()


def _font(size):
    path = current_app.config.get("CERTIFICATE_FONT")
    try:
        return ImageFont.truetype(path, size)
    except (OSError, TypeError):
        log.warning("certificate font %s missing: Chinese text will not render (install fonts-wqy-microhei)", path)
        return ImageFont.load_default(size)


def dose_lines(claims):
    """Two lines per dose, (text, colour): when and where, then what."""
    for dose in claims["doses"]:
        label = "加强" if dose.get("booster") else f"第{dose['dose']}剂"
        yield f"{label}  {dose['date']}  {dose['station']}", INK
        yield f"      {dose['product']}  {dose['manufacturer']}  批号 {dose['lot']}", MUTED


def certificate_image(claims, token, verify_url, issued_at):
    """Draw the certificate: title, holder, doses, the QR code and where to verify it."""
    qr = token_qr_image(token, box_size=7)
    qr_side = min(qr.width, WIDTH - 2 * MARGIN)
    qr = qr.resize((qr_side, qr_side), Image.NEAREST)
    lines = list(dose_lines(claims))
    height = 330 + 44 * len(lines) + qr_side + 170
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    title, body, small = _font(56), _font(32), _font(26)
    draw.rectangle((0, 0, WIDTH, 120), fill=BRAND)
    draw.text((WIDTH // 2, 60), "滨海新区疫苗接种凭证", font=title, fill="white", anchor="mm")
    y = 160
    draw.text((MARGIN, y), f"姓名：{claims['name']}", font=body, fill=INK)
    draw.text((MARGIN, y + 50), f"身份证号：{claims['id_number']}", font=body, fill=INK)
    y += 130
    for line, colour in lines:
        draw.text((MARGIN, y), line, font=small, fill=colour)
        y += 44
    y += 20
    image.paste(qr, ((WIDTH - qr_side) // 2, y))
    y += qr_side + 20
    draw.text((WIDTH // 2, y), f"凭证编号 {claims['jti']} · 签发于 {issued_at:%Y-%m-%d %H:%M}",
              font=small, fill=MUTED, anchor="mt")
    draw.text((WIDTH // 2, y + 45), f"扫码验证：{verify_url}", font=small, fill=MUTED, anchor="mt")
    return image


def image_bytes(image, fmt):
    buffer = io.BytesIO()
    if fmt == "PDF":
        image.save(buffer, format="PDF", resolution=150, title="接种凭证")
    else:
        image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
