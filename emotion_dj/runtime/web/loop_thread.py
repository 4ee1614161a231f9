"""A server on its own thread and asyncio event loop (the live page, the fleet's front): start() returns once it
listens, or raises its one-line error (a taken port); stop_loop() ends the loop and joins the thread."""
from __future__ import annotations

import asyncio
import threading

from emotion_dj.core.errors import UserError


class LoopThread:
    thread_name = "server"

    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: str | None = None  # set by _serve() when it cannot listen

    def start(self):
        self._thread = threading.Thread(target=self._serve, name=self.thread_name, daemon=True)
        self._thread.start()
        self._started.wait(timeout=30)
        if self._error:
            raise UserError(self._error)
        return self

    def stop_loop(self, timeout: float) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=timeout)

    def _serve(self) -> None:
        """Make self._loop, listen, set self._started (with self._error on failure), run until stopped."""
        raise NotImplementedError
