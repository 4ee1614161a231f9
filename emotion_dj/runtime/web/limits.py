"""What keeps the page's server whole under hostile or broken clients: a connection cap that makes room by closing
the oldest connection that never sent a whole request, short one-line logs for bad requests (rate-limited, no
traceback), and Host headers read the way browsers send them.

aiohttp answers a malformed request (a 9 KB URL, a huge header, too many headers) with a 400 itself, but logs the
parser's traceback; a flood of them, or of half-open sockets, would fill stderr and the file descriptors.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

MAX_CONNECTIONS = 64  # open connections, streams included; the oldest that never sent a request makes room
KEEPALIVE_S = 15.0  # aiohttp closes a connection that has sent no whole request (or no next one) for this long
MAX_HEADERS = 64
LISTEN_BACKLOG = 1024  # a burst of connections waits in the kernel to be judged by the cap, instead of being reset
# asyncio accepts up to its backlog argument in one loop tick before the cap sees any of them; a tick of 1024 under a
# low descriptor limit ran out of descriptors, and asyncio then stops accepting for a whole second each time
ACCEPT_BATCH = 16
LOG_EVERY_S = 10.0  # one line per kind of bad request per this many seconds, with a count of the ones not shown


def host_name(header: str) -> str:
    """A Host header -> its name, without port or brackets: '127.0.0.1:8080', '[::1]:80', 'localhost', '[::1]'."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[1:end] if end > 0 else ""
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class OneLinePerKind(logging.Filter):
    """A logger's records as one short line, no traceback, at most one per kind every LOG_EVERY_S seconds."""

    def __init__(self, what: str, clock=time.monotonic):
        super().__init__()
        self.what, self.clock = what, clock
        self._last: dict[str, float] = {}
        self._hidden: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        kind = type(error).__name__ if error is not None else record.getMessage()[:40]
        now = self.clock()
        if now - self._last.get(kind, -1e9) < LOG_EVERY_S:
            self._hidden[kind] = self._hidden.get(kind, 0) + 1
            return False
        self._last[kind] = now
        detail = str(getattr(error, "message", None) or error or record.getMessage()).splitlines()[0][:100]
        hidden = self._hidden.pop(kind, 0)
        record.msg = f"{self.what}: {detail}" + (f" ({hidden} more like it not shown)" if hidden else "")
        record.args, record.exc_info, record.exc_text, record.stack_info = None, None, None, None
        return True


def quiet_http_logger() -> logging.Logger:
    """The logger aiohttp's request handlers report bad requests to (instead of aiohttp.server's tracebacks)."""
    logger = logging.getLogger("emotion_dj.web.http")
    if not any(isinstance(f, OneLinePerKind) for f in logger.filters):
        logger.addFilter(OneLinePerKind("the page could not answer a request"))
    return logger


def quiet_accept_errors() -> None:
    """asyncio logs each failed accept() (out of file descriptors) with a traceback: one line every few seconds."""
    logger = logging.getLogger("asyncio")
    if any(isinstance(f, _AcceptErrors) for f in logger.filters):
        return
    logger.addFilter(_AcceptErrors())


class _AcceptErrors(OneLinePerKind):
    def __init__(self):
        super().__init__("the page could not accept a connection")

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("socket.accept()"):
            return True  # any other asyncio record goes through unchanged
        return super().filter(record)


class ConnectionCap:
    """A protocol factory around aiohttp's: at MAX_CONNECTIONS open, the oldest connection that has had no whole request
    and has nothing waiting to be read is closed to make room. A real client sends its request as soon as it connects,
    so its bytes are waiting by the time it is accepted; a half-open flood sends nothing, a slow one (slowloris) only
    dribbles. When no connection qualifies, the new one is closed at once."""

    def __init__(self, server, limit: int = MAX_CONNECTIONS):
        self.server, self.limit = server, limit  # server: aiohttp's web.Server (its .connections, oldest first)
        # aiohttp's handlers take no weak references: both sets are pruned to the open connections as they change
        self.served: set = set()  # handlers that have had a whole request (the guard adds them)
        self.closing: set = set()  # closed here, not yet gone from server.connections
        self.refused = 0
        self.evicted = 0

    def __call__(self) -> asyncio.Protocol:
        connections = self.server.connections
        self.served.intersection_update(connections)
        self.closing.intersection_update(connections)
        open_now = [h for h in connections if h not in self.closing]
        if len(open_now) >= self.limit:
            idle = next((h for h in open_now if h not in self.served and h.transport is not None
                         and waiting_bytes(h.transport) == 0), None)
            if idle is None:
                self.refused += 1
                return _Refused()
            self.evicted += 1
            self.closing.add(idle)
            idle.force_close()  # closes its transport too
        return self.server()


def waiting_bytes(transport: asyncio.BaseTransport) -> int:
    """Whether the kernel holds bytes for this connection, not yet read: 1 if so, 0 if not (or the socket is gone).
    A peek at one byte, on a duplicate of the socket (closing it leaves the connection), on every OS."""
    sock = transport.get_extra_info("socket")
    try:
        with socket.fromfd(sock.fileno(), sock.family, sock.type) as same_socket:
            # asyncio's sockets are non-blocking already (a flag the duplicate shares); MSG_DONTWAIT where it exists
            return len(same_socket.recv(1, socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)))
    except (BlockingIOError, InterruptedError):
        return 0  # nothing waiting
    except (OSError, AttributeError, ValueError):
        return 0


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


# On POSIX, SO_REUSEADDR only lets a restarted app take its port from a connection still in TIME_WAIT; on Windows it
# lets a second program bind the same port, and the "port taken" check would never fire.
REUSE_ADDRESS = os.name == "posix"


def capped_site():
    from aiohttp import web

    class CappedSite(web.TCPSite):
        """aiohttp's TCP site, listening through a ConnectionCap instead of the bare protocol factory."""

        def __init__(self, runner, host: str, port: int, cap: ConnectionCap):
            super().__init__(runner, host, port)
            self.cap = cap

        async def start(self) -> None:
            await web.BaseSite.start(self)  # registers the site with the runner, which closes it on cleanup
            # asyncio's backlog is both the kernel's queue and how many it accepts per tick: listen with a small
            # one (ACCEPT_BATCH per tick, so the cap judges each batch before the next), then deepen the kernel's
            # queue so a burst (a flood, or many players at once) waits there instead of being reset
            self._server = await asyncio.get_running_loop().create_server(self.cap, self._host, self._port,
                                                                          backlog=ACCEPT_BATCH,
                                                                          reuse_address=REUSE_ADDRESS)
            for listening in self._server.sockets:
                deepen_queue(listening.fileno(), listening.family)
    return CappedSite


def deepen_queue(fileno: int, family: int) -> None:
    """listen() again with LISTEN_BACKLOG on an already listening socket (Linux and the BSDs take the new length)."""
    with socket.fromfd(fileno, family, socket.SOCK_STREAM) as same_socket:  # a dup: closing it leaves the listener
        same_socket.listen(LISTEN_BACKLOG)
