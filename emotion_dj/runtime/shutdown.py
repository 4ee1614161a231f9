"""One way to stop: SIGINT (Ctrl-C), SIGTERM (systemctl/docker stop, timeout) and SIGHUP (terminal closed) on
POSIX, and Ctrl-C, Ctrl-Break (SIGBREAK) and closing the console window on Windows, all set the same flag, which the
main loop checks between frames.

Windows delivers only Ctrl-C and Ctrl-Break as signals. Closing the console (or logging off, shutting down) is a
console control event: a handler registered with SetConsoleCtrlHandler sets the flag, then holds the event for up to
CLOSE_GRACE_S while the main thread finalises the video and flushes the events (Windows ends the process when the
handler returns, or after about 5 s).

No signal raises inside the app, so cleanup (join the threads, flush the events, finalise the video) always
runs to the end. A second signal during cleanup does not cut it short; it is remembered, and the app then
exits non-zero (EXIT_INTERRUPTED), as a user pressing Ctrl-C twice expects.
"""
from __future__ import annotations

import os
import signal
import threading

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK") if hasattr(signal, name))
DESCRIPTIONS = {"SIGINT": "interrupted (Ctrl-C)", "SIGTERM": "terminated (SIGTERM)", "SIGHUP": "hung up (SIGHUP)",
                "SIGBREAK": "interrupted (Ctrl-Break)", "CONSOLE_CLOSE": "the console was closed"}
CONSOLE_CLOSE_EVENTS = (2, 5, 6)  # CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT
CLOSE_GRACE_S = 4.5
WINDOWS = os.name == "nt"


class StopFlag:
    def __init__(self):
        self.event = threading.Event()
        self.finished = threading.Event()  # set by the app once its outputs are closed (the console close waits for it)
        self.count = 0
        self.first: str | None = None

    def install(self) -> StopFlag:
        """Take over the stop signals (main thread only, as Python requires), and on Windows the console's close."""
        for sig in SIGNALS:
            signal.signal(sig, self._on_signal)
        if WINDOWS:
            self._watch_console()
        return self

    def _watch_console(self) -> None:
        import ctypes

        def on_event(event: int) -> bool:
            if event not in CONSOLE_CLOSE_EVENTS:
                return False  # Ctrl-C and Ctrl-Break come as signals
            self.count += 1
            self.first = self.first or "CONSOLE_CLOSE"
            self.event.set()
            self.finished.wait(CLOSE_GRACE_S)  # Windows ends the process when this returns
            return True

        self._console_handler = ctypes.WINFUNCTYPE(ctypes.c_bool, ctypes.c_uint)(on_event)  # kept: not collected
        ctypes.windll.kernel32.SetConsoleCtrlHandler(self._console_handler, True)

    def uninstall(self) -> None:
        """Back to Python's defaults (Ctrl-C raises KeyboardInterrupt), for commands with no frame loop to stop."""
        for sig in SIGNALS:
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)

    def _on_signal(self, signum, _frame) -> None:
        self.count += 1
        self.first = self.first or signal.Signals(signum).name
        self.event.set()

    def done(self) -> None:
        """The app has finalised its outputs: a console close waiting on it may let Windows end the process."""
        self.finished.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    @property
    def reason(self) -> str:
        return DESCRIPTIONS.get(self.first or "", "stopped")

    @property
    def asked_twice(self) -> bool:
        return self.count >= 2


STOP = StopFlag()  # the process's one flag; run_edge.py installs it before anything slow is imported
