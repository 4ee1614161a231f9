"""One way to stop: SIGINT (Ctrl-C), SIGTERM (systemctl/docker stop, timeout) and SIGHUP (terminal closed)
all set the same flag, which the main loop checks between frames.

No signal raises inside the app, so cleanup (join the threads, flush the events, finalise the video) always
runs to the end. A second signal during cleanup does not cut it short; it is remembered, and the app then
exits non-zero (EXIT_INTERRUPTED), as a user pressing Ctrl-C twice expects.
"""
from __future__ import annotations

import signal
import threading

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
DESCRIPTIONS = {"SIGINT": "interrupted (Ctrl-C)", "SIGTERM": "terminated (SIGTERM)", "SIGHUP": "hung up (SIGHUP)"}


class StopFlag:
    def __init__(self):
        self.event = threading.Event()
        self.count = 0
        self.first: str | None = None

    def install(self) -> StopFlag:
        """Take over the stop signals (main thread only, as Python requires)."""
        for sig in SIGNALS:
            signal.signal(sig, self._on_signal)
        return self

    def uninstall(self) -> None:
        """Back to Python's defaults (Ctrl-C raises KeyboardInterrupt), for commands with no frame loop to stop."""
        for sig in SIGNALS:
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)

    def _on_signal(self, signum, _frame) -> None:
        self.count += 1
        self.first = self.first or signal.Signals(signum).name
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    @property
    def reason(self) -> str:
        return DESCRIPTIONS.get(self.first or "", "stopped")

    @property
    def asked_twice(self) -> bool:
        return self.count >= 2


STOP = StopFlag()  # the process's one flag; run_edge.py installs it before anything slow is imported
