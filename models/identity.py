"""Checks and normalisation of Chinese identifiers: resident ID (GB 11643), credit code (GB 32100), mobile.

The domain's: the forms, the imports, the card-read API and the demo data all call these. A check
answers None or a FieldError (field, code, params) that the caller words (admin_views/labels.py).
"""

import re
from datetime import date

from models.base import today as campaign_today
from models.errors import FieldError
from models.regions import region_code_exists

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
PROVINCES = set(range(11, 16)) | set(range(21, 24)) | set(range(31, 38)) | set(range(41, 47)) \
    | set(range(50, 55)) | set(range(61, 66)) | {71, 81, 82, 83}

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

FULL_WIDTH = str.maketrans("０１２３４５６７８９ＸｘＡＢＣＤＥＦＧＨＪＫＬＭＮＰＱＲＴＵＷＸＹ",
                           "0123456789XXABCDEFGHJKLMNPQRTUWXY")


def normalise_id_number(raw):
    """Strip spaces, turn full-width digits to ASCII and x to X."""
    return re.sub(r"\s+", "", str(raw or "")).translate(FULL_WIDTH).upper()


def id_check_char(first17):
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def id_number_error(number, today=None):
    """Return the FieldError saying what is wrong with an ID number, or None."""
    if not re.fullmatch(r"[1-9][0-9]{16}[0-9X]", number or ""):
        return FieldError("id_number", "id_number_shape")
    if int(number[:2]) not in PROVINCES or not region_code_exists(number[:6]):
        return FieldError("id_number", "id_number_region")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return FieldError("id_number", "id_number_birth_date_invalid")
    if born > (today or campaign_today()):
        return FieldError("id_number", "id_number_birth_date_future")
    if id_check_char(number[:17]) != number[17]:
        return FieldError("id_number", "id_number_check_digit")
    return None


def id_birth_date(number):
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def id_gender(number):
    """'M' or 'F' from the 17th digit."""
    return "M" if int(number[16]) % 2 else "F"


def age_on(born, on):
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def normalise_credit_code(raw):
    return re.sub(r"\s+", "", str(raw or "")).translate(FULL_WIDTH).upper()


def credit_check_char(first17):
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_error(code):
    """Return the FieldError saying what is wrong with a credit code, or None."""
    if len(code or "") != 18:
        return FieldError("credit_code", "credit_code_length")
    bad = sorted({c for c in code if c not in CREDIT_ALPHABET})
    if bad:
        return FieldError("credit_code", "credit_code_characters", {"characters": "".join(bad)})
    if not code[2:8].isdigit():  # GB 32100: characters 3-8 are the registering authority's region code
        return FieldError("credit_code", "credit_code_region")
    if credit_check_char(code[:17]) != code[17]:
        return FieldError("credit_code", "credit_code_check_digit")
    return None


def normalise_phone(raw):
    text = re.sub(r"[\s\-()]", "", str(raw or "")).translate(FULL_WIDTH)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    return text


def phone_error(phone):
    """Return the FieldError of a number that is not an 11-digit mobile, or None."""
    if not re.fullmatch(r"1[3-9][0-9]{9}", phone or ""):
        return FieldError("phone", "phone_invalid")
    return None
