"""What the simulated marketplace holds: its codes, the access keys it accepts, the faults waiting
to be served, the requests it served and the nonces it saw.

All of it sits behind one lock (re-entrant: the control methods call each other): the webapp
calls the simulator in-process from several request threads. The nonce store also has a lock of
its own, as the gateway's verifier uses it on its own.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .codes import CodeRecord
from .faults import Fault
from .gateway import AccessKey, NonceStore

__all__ = ["MarketState"]


@dataclass
class MarketState:
    nonces: NonceStore
    codes: dict[str, CodeRecord] = field(default_factory=dict)
    keys: dict[str, AccessKey] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    #: The Market API requests served, newest last (codes masked); the oldest are forgotten.
    requests_seen: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))
    lock: threading.RLock = field(default_factory=threading.RLock)

    def record(self, code: str) -> CodeRecord:
        """The stored record of ``code``; ``KeyError`` when there is none. Hold the lock."""
        record = self.codes.get(code)
        if record is None:
            raise KeyError(code)
        return record

    def take_fault(self, action: str | None) -> Fault | None:
        """The first pending fault that applies to ``action``, counted as used once more (and
        forgotten when used up); None when none applies."""
        with self.lock:
            for fault in self.faults:
                if fault.applies_to(action):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                    return fault
        return None
