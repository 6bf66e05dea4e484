"""A simulated reader for trials and demos: cards from the command line or from a file.

Each card is `ID_NUMBER` or `ID_NUMBER,NAME`; a file holds one card per line (# comments).
"""

import logging

from reader_agent.backends import Backend, CardData

log = logging.getLogger("reader_agent.simulate")


class SimulatedBackend(Backend):
    name = "simulate"
    finite = True

    def __init__(self, cards, interval=1.0, label="simulator"):
        self.cards = cards
        self.interval = interval
        self.label = label

    @classmethod
    def from_options(cls, options):
        lines = list(options.card or [])
        if options.file:
            with open(options.file, encoding="utf-8") as handle:
                lines += [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
        cards = []
        for line in lines:
            number, _, name = line.strip().partition(",")
            cards.append((number.strip(), name.strip()))
        return cls(cards, interval=options.interval, label=options.reader or "simulator")

    def run(self, on_card, stop):
        log.info("模拟读卡器：共 %d 张卡，间隔 %.1f 秒", len(self.cards), self.interval)
        for index, (number, name) in enumerate(self.cards):
            if index and stop.wait(self.interval):
                return
            on_card(CardData(id_number=number, name=name, reader=self.label))
