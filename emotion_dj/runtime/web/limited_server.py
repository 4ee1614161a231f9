"""An aiohttp app on its own thread and asyncio event loop, behind limits.py's connection cap, timeouts and quiet
logs: the live page (server.py) and the fleet's front (fleet/front.py). start() returns once it listens, or raises
its one-line error (a taken port); stop_loop() ends the loop, closes the listener and joins the thread."""
from __future__ import annotations

import asyncio
import threading

from emotion_dj.core.errors import UserError
from emotion_dj.runtime.web.limits import KEEPALIVE_S, MAX_HEADERS, ConnectionCap, capped_site, quiet_accept_errors, quiet_http_logger


class LimitedServer:
    thread_name = "server"
    what = "serve"  # the error says "cannot <what> on HOST:PORT: why"
    shutdown_timeout = 1.0  # how long open streams get when it stops

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port  # port 0: the OS picks one, read back once listening
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: str | None = None
        self._cap: ConnectionCap | None = None

    # -- what a server adds ----------------------------------------------------------------------------------
    def make_app(self):
        """The aiohttp Application (routes, middlewares); called on the server's thread."""
        raise NotImplementedError

    async def on_start(self) -> None:
        """Once listening, on the server's loop."""

    async def on_stop(self) -> None:
        """Before the listener closes, on the server's loop."""

    # -- life cycle -----------------------------------------------------------------------------------------
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
        from aiohttp import web

        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        quiet_accept_errors()
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=self.shutdown_timeout,
                               keepalive_timeout=KEEPALIVE_S, logger=quiet_http_logger(), max_headers=MAX_HEADERS)
        try:
            self._loop.run_until_complete(runner.setup())
            self._cap = ConnectionCap(runner.server)
            site = capped_site()(runner, self.host, self.port, self._cap)
            self._loop.run_until_complete(site.start())
            if self.port == 0:  # an OS-chosen port: read it back
                self.port = site._server.sockets[0].getsockname()[1]
            self._loop.run_until_complete(self.on_start())
        except Exception as error:  # noqa: BLE001 - whatever stops it listening is the user's one line, never a hang
            self._error = f"cannot {self.what} on {self.host}:{self.port}: {getattr(error, 'strerror', None) or error}"
            self._started.set()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self.on_stop())
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()
