"""PC/SC readers that expose the holder's data over APDUs (pyscard), reading our APDU data profile.

A CardRequest(timeout=1, newcardonly=True) loop rather than CardMonitor: CardMonitor's
thread dies for good when pcscd stops, while this loop rebuilds itself after any
error and so survives pcscd restarts and readers being unplugged and plugged back.
A card inserted in the instant between two one-second requests can be missed; the
desk then puts it on again (the page shows nothing for it).
"""

import contextlib
import logging

from reader_agent.apdu_profile import CardProfileError, read_record
from reader_agent.backends import Backend, CardData

log = logging.getLogger("reader_agent.pcsc")


class PcscBackend(Backend):
    name = "pcsc"

    def __init__(self, reader_filter=None, retry_seconds=2.0):
        self.reader_filter = reader_filter
        self.retry_seconds = retry_seconds
        self._last_state = None

    def _say(self, state, level, message, *args):
        """Log a state change once, not every retry."""
        if state != self._last_state:
            log.log(level, message, *args)
            self._last_state = state

    def run(self, on_card, stop):
        from smartcard.CardRequest import CardRequest
        from smartcard.Exceptions import CardRequestTimeoutException, SmartcardException
        from smartcard.pcsc.PCSCExceptions import BaseSCardException, EstablishContextException
        from smartcard.System import readers

        request = None
        while not stop.is_set():
            try:
                if request is None:
                    names = [str(reader) for reader in readers()]
                    chosen = [n for n in names if not self.reader_filter or self.reader_filter in n]
                    if not chosen:
                        wanted = f"名称含“{self.reader_filter}”的" if self.reader_filter else ""
                        self._say("no_reader", logging.WARNING, "未检测到%s读卡器，请连接读卡器（每 %.0f 秒重试）",
                                  wanted, self.retry_seconds)
                        stop.wait(self.retry_seconds)
                        continue
                    request = CardRequest(timeout=1, newcardonly=True,
                                          readers=chosen if self.reader_filter else None)
                    self._say("ready", logging.INFO, "读卡器就绪：%s。请放置身份证", "、".join(chosen))
                service = request.waitforcard()
            except CardRequestTimeoutException:
                continue
            except EstablishContextException:
                self._say("no_pcscd", logging.ERROR,
                          "无法连接 PC/SC 服务：pcscd 未运行（sudo systemctl start pcscd），每 %.0f 秒重试",
                          self.retry_seconds)
                request = None
                stop.wait(self.retry_seconds)
                continue
            except (SmartcardException, BaseSCardException) as error:
                self._say("pcsc_error", logging.WARNING, "PC/SC 服务或读卡器出错（%s），重新连接…",
                          type(error).__name__)
                request = None
                stop.wait(self.retry_seconds)
                continue
            self._read(service.connection, on_card)

    def _read(self, connection, on_card):
        from smartcard.Exceptions import SmartcardException
        from smartcard.pcsc.PCSCExceptions import BaseSCardException

        reader = str(connection.getReader())
        try:
            connection.connect()
            record = read_record(connection.transmit)
        except CardProfileError as error:
            log.warning("不支持的卡片（%s）：请使用本系统的身份卡或改用厂商读卡器后端", error)
            return
        except (SmartcardException, BaseSCardException) as error:
            log.warning("读卡中断（%s）：卡片可能被移开，请重新放卡", type(error).__name__)
            return
        finally:
            with contextlib.suppress(SmartcardException, BaseSCardException):
                connection.disconnect()
        on_card(CardData(id_number=record.id_number, name=record.name, reader=reader))
