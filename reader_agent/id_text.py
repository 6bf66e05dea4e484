"""The 256-byte text block of a resident ID card (GA/T 467), as the SAM hands it over.

UCS-2 little-endian, fixed-width fields padded with spaces:
    name 30 | sex code 2 | nation code 4 | birth date 16 | address 70 | ID number 36 |
    issuing authority 30 | valid from 16 | valid until 16 ("长期" for no end) | reserved 36
The reserved part carries the card type at bytes 248-249: a space on a resident ID card,
"J" on a residence permit for Hong Kong, Macao and Taiwan residents (same layout, with
the pass number in front), "I" on a foreigner's permanent residence card (another layout).
"""

from __future__ import annotations

from datetime import date

TEXT_LENGTH = 256
LAYOUT = (("name", 30), ("sex_code", 2), ("nation_code", 4), ("birth_date", 16), ("address", 70),
          ("id_number", 36), ("authority", 30), ("valid_from", 16), ("valid_until", 16), ("reserved", 36))
CARD_TYPE_OFFSET = 248
RESIDENT_ID, RESIDENCE_PERMIT, FOREIGN_PERMANENT = "resident_id", "residence_permit", "foreign_permanent"
CARD_TYPES = {" ": RESIDENT_ID, "": RESIDENT_ID, "J": RESIDENCE_PERMIT, "I": FOREIGN_PERMANENT}
CARD_TYPE_LABELS = {RESIDENT_ID: "居民身份证", RESIDENCE_PERMIT: "港澳台居民居住证",
                    FOREIGN_PERMANENT: "外国人永久居留身份证"}
LONG_TERM = "长期"
SEXES = {"1": "男", "2": "女", "0": "未知", "9": "未说明"}


class TextBlockError(ValueError):
    """The text block is not what GA/T 467 describes (too short, not UCS-2, bad dates)."""


class UnsupportedCard(TextBlockError):
    """A card the reader reads but whose holder the system does not register by this number."""


def _field(raw):
    try:
        return raw.decode("utf-16-le").rstrip(" \x00")
    except UnicodeDecodeError:
        raise TextBlockError("field is not UCS-2 text") from None


def card_type_of(block):
    """The card type from its flag, or raise TextBlockError for a flag we do not know."""
    flag = _field(bytes(block[CARD_TYPE_OFFSET:CARD_TYPE_OFFSET + 2])).strip()
    if flag not in CARD_TYPES:
        raise TextBlockError(f"unknown card type flag {flag!r}")
    return CARD_TYPES[flag]


def parse_date(text, field):
    """YYYYMMDD as a date; raise TextBlockError naming the field otherwise."""
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise TextBlockError(f"{field} is not YYYYMMDD")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise TextBlockError(f"{field} is not a calendar date") from None


def decode(block):
    """The fields of a resident ID card or residence permit text block, as a dict.

    valid_until is None when the card says 长期 (long_term True). A foreigner's permanent
    residence card is recognised by its flag and refused: its layout and numbers differ.
    """
    block = bytes(block)
    if len(block) < TEXT_LENGTH:
        raise TextBlockError(f"text block has {len(block)} bytes, not {TEXT_LENGTH}")
    card_type = card_type_of(block)
    if card_type == FOREIGN_PERMANENT:
        raise UnsupportedCard("外国人永久居留身份证")
    fields, offset = {}, 0
    for name, size in LAYOUT:
        fields[name] = _field(block[offset:offset + size])
        offset += size
    until = fields["valid_until"].strip()
    fields["long_term"] = until == LONG_TERM
    fields["valid_until"] = None if until == LONG_TERM else parse_date(until, "valid_until")
    fields["valid_from"] = parse_date(fields["valid_from"].strip(), "valid_from")
    fields["birth_date"] = parse_date(fields["birth_date"].strip(), "birth_date")
    fields["card_type"] = card_type
    del fields["reserved"]
    return fields

