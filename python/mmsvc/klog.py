"""The simulated kernel log: structured records, rendered as dmesg text."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

# printk levels (include/linux/kern_levels.h)
KERN_EMERG, KERN_ALERT, KERN_CRIT, KERN_ERR = 0, 1, 2, 3
KERN_WARNING, KERN_NOTICE, KERN_INFO, KERN_DEBUG = 4, 5, 6, 7
LEVEL_NAMES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")


@dataclass(frozen=True)
class LogRecord:
    """One printed line: its sequence number, level, the step that printed it."""

    seq: int
    level: int
    step: str
    text: str

    def to_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "level": LEVEL_NAMES[self.level], "step": self.step,
                "text": self.text}


class KernelLog:
    """An append-only list of :class:`LogRecord` with listeners.

    ``console_loglevel`` decides which records :meth:`text` shows, as the
    kernel's console does (``KERN_DEBUG`` lines appear only with ``debug`` or
    ``loglevel=8`` on the command line); every record is kept regardless.
    """

    def __init__(self, console_loglevel: int = 7) -> None:
        self.console_loglevel = console_loglevel
        self._records: list[LogRecord] = []
        self._listeners: list[Callable[[LogRecord], None]] = []
        self._lock = threading.Lock()
        self.step = "boot"

    def printk(self, text: str, level: int = KERN_INFO, step: str | None = None) -> LogRecord:
        """Append one or more lines (split on newlines) and return the last record."""
        rec = None
        for line in text.split("\n"):
            with self._lock:
                rec = LogRecord(len(self._records), level, step or self.step, line)
                self._records.append(rec)
            for listener in list(self._listeners):
                listener(rec)
        assert rec is not None
        return rec

    def subscribe(self, listener: Callable[[LogRecord], None]) -> Callable[[], None]:
        """Call ``listener`` for every new record; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @property
    def records(self) -> list[LogRecord]:
        return list(self._records)

    def since(self, seq: int) -> list[LogRecord]:
        return self._records[seq:]

    def __len__(self) -> int:
        return len(self._records)

    def visible(self, rec: LogRecord) -> bool:
        return rec.level < self.console_loglevel

    def text(self, *, all_levels: bool = False) -> str:
        """The console text: one line per visible record."""
        return "".join(r.text + "\n" for r in self._records if all_levels or self.visible(r))

    def copy(self) -> KernelLog:
        other = KernelLog(self.console_loglevel)
        other._records = list(self._records)
        other.step = self.step
        return other
