"""The e-signature of the exit confirmation: a PNG data URL from the pad, checked and re-encoded."""

import base64
import binascii
import io

from PIL import Image, ImageChops, UnidentifiedImageError

DATA_URL_PREFIX = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 400_000
MIN_SIZE = (100, 50)
MAX_SIZE = (3000, 2000)
MIN_INK_PIXELS = 80
MIN_INK_WIDTH = 30


class SignatureError(ValueError):
    """A signature that is not a usable drawn PNG; the message is for the user."""


def signature_png(data_url):
    """Return the signature as clean PNG bytes, or raise SignatureError saying what is wrong."""
    if not data_url:
        raise SignatureError("请接种人在签名板上签名")
    if not data_url.startswith(DATA_URL_PREFIX):
        raise SignatureError("签名格式不正确，请重新签名")
    encoded = data_url[len(DATA_URL_PREFIX):]
    if len(encoded) > MAX_BYTES * 4 // 3 + 4:
        raise SignatureError("签名图片过大，请清除后重新签名")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("签名格式不正确，请重新签名") from None
    if not raw.startswith(PNG_MAGIC):
        raise SignatureError("签名格式不正确，请重新签名")
    image = _open_png(raw)
    if _ink_is_too_little(image):
        raise SignatureError("签名为空或过短，请接种人完整签名")
    cleaned = io.BytesIO()
    image.save(cleaned, format="PNG", optimize=True)
    return cleaned.getvalue()


def _open_png(raw):
    try:
        image = Image.open(io.BytesIO(raw))
        if image.format != "PNG":
            raise SignatureError("签名格式不正确，请重新签名")
        width, height = image.size
        # Checked on the header, before any pixel is decoded.
        if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
            raise SignatureError("签名图片尺寸不正确，请重新签名")
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise SignatureError("签名图片已损坏，请重新签名") from None
    return image.convert("RGBA")


def _ink_is_too_little(image):
    """Count dark, visible pixels: strokes on a transparent or white pad."""
    visible = image.getchannel("A").point(lambda alpha: 255 if alpha > 32 else 0)
    dark = image.convert("L").point(lambda value: 255 if value < 200 else 0)
    ink = ImageChops.multiply(visible, dark)
    box = ink.getbbox()
    if box is None:
        return True
    return ink.histogram()[255] < MIN_INK_PIXELS or box[2] - box[0] < MIN_INK_WIDTH
