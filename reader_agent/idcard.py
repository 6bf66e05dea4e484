"""Resident ID numbers (GB 11643-1999): normalise and validate before anything is posted.

A copy of the server's check, on purpose: the agent must not import the server.
"""

import re
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
PROVINCES = set(range(11, 16)) | set(range(21, 24)) | set(range(31, 38)) | set(range(41, 47)) \
    | set(range(50, 55)) | set(range(61, 66)) | {71, 81, 82, 83}
FULL_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789XX")
PATTERN = re.compile(r"[1-9][0-9]{16}[0-9X]")  # ASCII only: \d would take any script's digits
FIND_PATTERN = re.compile(r"[1-9][0-9]{16}[0-9Xx]")


def normalise(raw):
    """Strip spaces, turn full-width digits to ASCII and x to X."""
    return re.sub(r"\s+", "", str(raw or "")).translate(FULL_WIDTH).upper()


def check_char(first17):
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def problem(number, today=None):
    """Return what is wrong with an ID number (English, for logs), or None when it is valid."""
    if not PATTERN.fullmatch(number or ""):
        return "not 17 digits and a check character"
    if int(number[:2]) not in PROVINCES:
        return "unknown region code"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "birth date does not exist"
    if born > (today or date.today()):
        return "birth date in the future"
    if check_char(number[:17]) != number[17]:
        return "wrong check character"
    return None


def is_valid(number):
    return problem(number) is None


def find_in_text(text):
    """The first ID number in a line typed by a keyboard-wedge reader, normalised, or None."""
    found = FIND_PATTERN.search(normalise(text))
    return found.group(0).upper() if found else None
