"""The APDU data profile: SELECT our application, READ BINARY one TLV record.

For PC/SC readers and cards that expose the holder's data over plain APDUs (the test
card, some vendor readers in transparent mode). A resident ID card itself never answers
this: its data is encrypted, and only a certified reader's security module decodes it
(the sam-serial and sdk backends). The record is a sequence of
tag (1 byte), length (1 byte), value:
    0x01 ID number (ASCII), 0x02 name (UTF-8), 0x03 sex ("1" male, "2" female,
    GB/T 2261.1), 0x04 birth date (ASCII YYYYMMDD). Unknown tags are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

# F0 = proprietary application identifier, then "BINHAIID".
AID = bytes.fromhex("F0") + b"BINHAIID"
TAG_ID_NUMBER, TAG_NAME, TAG_SEX, TAG_BIRTH_DATE = 0x01, 0x02, 0x03, 0x04
SW_OK = (0x90, 0x00)


class CardProfileError(Exception):
    """The card does not speak our profile (unknown application, bad record)."""


@dataclass
class CardRecord:
    id_number: str
    name: str = ""
    sex: str = ""
    birth_date: str = ""


def select_apdu():
    return [0x00, 0xA4, 0x04, 0x00, len(AID), *AID]


def read_binary_apdu(length=0):
    return [0x00, 0xB0, 0x00, 0x00, length]


def encode_record(id_number, name="", sex="", birth_date=""):
    """The TLV bytes of a record (for simulated and test cards)."""
    out = bytearray()
    for tag, value in ((TAG_ID_NUMBER, id_number.encode("ascii")), (TAG_NAME, name.encode("utf-8")),
                       (TAG_SEX, sex.encode("ascii")), (TAG_BIRTH_DATE, birth_date.encode("ascii"))):
        if value:
            if len(value) > 127:
                raise ValueError("TLV value too long")
            out += bytes((tag, len(value))) + value
    return bytes(out)


def decode_record(data):
    """Parse the TLV record; raise CardProfileError when it is malformed or has no ID number."""
    data = bytes(data)
    values, index = {}, 0
    while index < len(data):
        if data[index] in (0x00, 0xFF):  # padding after the record
            break
        if index + 2 > len(data):
            raise CardProfileError("truncated TLV header")
        tag, length = data[index], data[index + 1]
        value = data[index + 2:index + 2 + length]
        if len(value) != length:
            raise CardProfileError("truncated TLV value")
        values[tag] = value
        index += 2 + length
    try:
        record = CardRecord(
            id_number=values.get(TAG_ID_NUMBER, b"").decode("ascii"),
            name=values.get(TAG_NAME, b"").decode("utf-8"),
            sex=values.get(TAG_SEX, b"").decode("ascii"),
            birth_date=values.get(TAG_BIRTH_DATE, b"").decode("ascii"),
        )
    except UnicodeDecodeError:
        raise CardProfileError("record is not valid text") from None
    if not record.id_number:
        raise CardProfileError("record has no ID number")
    return record


def read_record(transmit):
    """Read the record through `transmit(apdu) -> (data, sw1, sw2)`."""
    data, sw1, sw2 = transmit(select_apdu())
    if (sw1, sw2) != SW_OK:
        raise CardProfileError(f"SELECT answered {sw1:02X}{sw2:02X}")
    data, sw1, sw2 = transmit(read_binary_apdu())
    if sw1 == 0x6C:  # wrong length: the card tells the right one
        data, sw1, sw2 = transmit(read_binary_apdu(sw2))
    collected = list(data)
    while sw1 == 0x61:  # more data waiting: GET RESPONSE
        data, sw1, sw2 = transmit([0x00, 0xC0, 0x00, 0x00, sw2])
        collected += data
    if (sw1, sw2) != SW_OK:
        raise CardProfileError(f"READ BINARY answered {sw1:02X}{sw2:02X}")
    return decode_record(collected)
