"""Card sources behind one interface.

A backend's `run(on_card, stop)` calls `on_card(CardData)` for every card it reads
until the threading.Event `stop` is set (or, for finite sources, until they end).
It must survive its device going away and coming back, and say so in the log.
To add a backend (a vendor SDK, a serial reader), subclass Backend and register it
in BACKENDS; see reader_agent/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass
class CardData:
    """What a backend read from a card; only number, name, type and validity are posted."""

    id_number: str
    name: str = ""
    reader: str = ""
    card_type: str = ""  # resident_id | residence_permit; "" when the reader does not say
    valid_from: date | None = None
    valid_until: date | None = None  # None with long_term: the card says 长期
    long_term: bool = False

    @classmethod
    def from_text_block(cls, fields, reader):
        """A card from the decoded GA/T 467 text block (reader_agent.id_text.decode)."""
        return cls(id_number=fields["id_number"], name=fields["name"], reader=reader,
                   card_type=fields["card_type"], valid_from=fields["valid_from"],
                   valid_until=fields["valid_until"], long_term=fields["long_term"])


class Backend:
    name = "base"
    finite = False  # True when the source ends by itself (a file, stdin)

    def run(self, on_card, stop):
        raise NotImplementedError


def make_backend(name, options):
    """Build the backend called `name` from the parsed command-line options."""
    if name == "pcsc":
        from reader_agent.backends.pcsc import PcscBackend

        return PcscBackend(reader_filter=options.reader, retry_seconds=options.device_retry)
    if name == "sam-serial":
        from reader_agent.backends.sam_serial import SamSerialBackend

        return SamSerialBackend(options.port, baudrate=options.baud, retry_seconds=options.device_retry,
                                label=options.reader)
    if name == "sdk":
        from reader_agent.backends.sdk import SdkBackend

        return SdkBackend(options.sdk, options.library, port=options.sdk_port, retry_seconds=options.device_retry,
                          label=options.reader, encoding=options.sdk_encoding)
    if name == "keyboard":
        from reader_agent.backends.keyboard import EvdevKeyboardBackend, KeyboardBackend

        if options.device:
            return EvdevKeyboardBackend(options.device, label=options.reader, retry_seconds=options.device_retry)
        return KeyboardBackend(label=options.reader or "keyboard")
    if name == "simulate":
        from reader_agent.backends.simulate import SimulatedBackend

        return SimulatedBackend.from_options(options)
    raise ValueError(f"unknown backend {name!r}")


BACKENDS = ("sam-serial", "sdk", "pcsc", "keyboard", "simulate")
