"""Card sources behind one interface.

A backend's `run(on_card, stop)` calls `on_card(CardData)` for every card it reads
until the threading.Event `stop` is set (or, for finite sources, until they end).
It must survive its device going away and coming back, and say so in the log.
To add a backend (a vendor SDK, a serial reader), subclass Backend and register it
in BACKENDS; see reader_agent/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CardData:
    id_number: str
    name: str = ""
    reader: str = ""


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
    if name == "keyboard":
        from reader_agent.backends.keyboard import KeyboardBackend

        return KeyboardBackend(label=options.reader or "keyboard")
    if name == "simulate":
        from reader_agent.backends.simulate import SimulatedBackend

        return SimulatedBackend.from_options(options)
    raise ValueError(f"unknown backend {name!r}")


BACKENDS = ("pcsc", "keyboard", "simulate")
