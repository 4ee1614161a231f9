"""The web server: aiohttp on its own thread and event loop, serving the page, the MJPEG stream, the live state
(Server-Sent Events and GET /api/state), the playlist button and the mood report.

Safe by default: it binds 127.0.0.1 unless a host is given. On any other address every route but /login needs the
token ($EMOTION_DJ_SERVE_TOKEN, or one kept in the config folder: token.py; never printed), passed once as ?token= and then kept in an HttpOnly,
SameSite=Strict cookie. Every POST needs the X-Emotion-DJ header, which a page on another site cannot send without
a CORS preflight this server never grants (anti-CSRF); on a loopback bind the Host header must be loopback too, so
a DNS-rebinding page cannot reach it either.

The video stream alone can also be opened with `?stream=` and the stream token (derived from the token; `emotion-dj
links` prints both): players such as VLC and Home Assistant's MJPEG camera cannot keep a cookie, and that token opens nothing else.
Connections are capped and timed out, and bad requests are a 4xx and one short log line (limits.py).
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import secrets
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from emotion_dj.core.errors import UserError
from emotion_dj.runtime.web.limited_server import LimitedServer
from emotion_dj.runtime.web.limits import host_name
from emotion_dj.runtime.web.token import stream_token
from emotion_dj.runtime.web.view import LiveView

log = logging.getLogger(__name__)
COOKIE = "emotion_dj_token"
CSRF_HEADER = "X-Emotion-DJ"
BOUNDARY = "emotion-dj-frame"
STATE_INTERVAL = 0.25  # seconds between Server-Sent Events
STOP_SECONDS = 1.0  # how long open streams get to finish when the app stops
MIN_TOKEN_CHARS = 16
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
PUBLIC_PATHS = ("/login", "/static/style.css")  # what a browser without the token may load: the token's own page


def parse_address(text: str) -> tuple[str, int]:
    """'8080' -> ('127.0.0.1', 8080); 'HOST:PORT' as given ('0.0.0.0:8080', '[::]:8080')."""
    host, _, port = str(text).strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise UserError(f"--serve must be PORT or HOST:PORT with a port from 0 to 65535, got '{text}'")
    return host, number


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebServer(LimitedServer):
    thread_name = "web"
    shutdown_timeout = STOP_SECONDS
    """Start with start() (binds at once: a taken port is a UserError), stop with stop() (within STOP_SECONDS)."""

    def __init__(self, view: LiveView, host: str, port: int, token: str | None = None,
                 report: Callable[[], bytes | None] | None = None):
        super().__init__(host, port)
        self.view = view
        self.loopback = is_loopback(host)
        if token is not None and not self.loopback and len(token) < MIN_TOKEN_CHARS:
            raise UserError(f"EMOTION_DJ_SERVE_TOKEN must be at least {MIN_TOKEN_CHARS} characters (a short one can be "
                            "guessed); leave it unset for a random one")
        self.token = None if self.loopback else (token or secrets.token_urlsafe(18))
        self.stream_token = None if self.token is None else stream_token(self.token)

        self.report = report  # draws the mood report so far as SVG (None: no --events to draw from)
        self._closing = False
        self._report_lock = threading.Lock()

    @property
    def address(self) -> str:
        """The page's address without its token (what start-up prints)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def url(self) -> str:
        return self.address + (f"?token={self.token}" if self.token else "")

    @property
    def stream_url(self) -> str:
        """The video alone, for players that keep no cookie (VLC, Home Assistant's MJPEG camera)."""
        return self.address + "video.mjpg" + (f"?stream={self.stream_token}" if self.stream_token else "")

    # -- life cycle -------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Close every stream and the listener; returns within about STOP_SECONDS."""
        self._closing = True
        self.stop_loop(timeout=STOP_SECONDS + 1.0)
        self.view.close()

    def make_app(self):
        from aiohttp import web

        app = web.Application(middlewares=[self._make_guard()])
        app.add_routes([web.get("/", self._page("index.html")), web.get("/report", self._page("report.html")),
                        web.get("/login", self._login), web.get("/static/{name}", self._static),
                        web.get("/video.mjpg", self._video), web.get("/events", self._events),
                        web.get("/api/state", self._state), web.post("/api/playlist", self._playlist), web.post("/api/dj", self._dj),
                        web.get("/report.svg", self._report_svg)])
        return app

    # -- the guard: token, anti-CSRF, Host --------------------------------------------------------------------
    def _forbidden(self, why: str):
        from aiohttp import web

        return web.Response(status=403, text=f"403 Forbidden: {why}\n")

    @staticmethod
    def _token_ok(given: str | None, token: str) -> bool:
        """Compared as bytes: a token with any characters at all is a plain no, never an error."""
        return bool(given) and secrets.compare_digest(given.encode("utf-8", "replace"), token.encode())

    def _make_guard(self):
        """The middleware every request passes: Host (loopback bind), token (network bind), anti-CSRF (POST)."""
        from aiohttp import web

        @web.middleware
        async def guard(request, handler):
            if self._cap is not None:
                self._cap.served.add(request.protocol)  # a whole request came: not one to evict at the cap
            if "Host" not in request.headers:
                return web.Response(status=400, text="400 Bad Request: no Host header\n")
            if self.loopback and host_name(request.headers["Host"]) not in LOOPBACK_NAMES:
                return self._forbidden("this server answers loopback names only")
            if self.token is not None:
                if self._token_ok(request.query.get("token"), self.token):  # the token, once: keep it in a cookie
                    # back to the same path on this server: '//evil.example/' must not become an off-site redirect
                    response = web.HTTPFound("/" + request.path.lstrip("/") if request.path != "/login" else "/")
                    response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", max_age=30 * 86400)
                    return response
                stream_ok = request.path == "/video.mjpg" and self._token_ok(request.query.get("stream"), self.stream_token)
                if request.path not in PUBLIC_PATHS and not stream_ok \
                        and not self._token_ok(request.cookies.get(COOKIE), self.token):
                    return self._forbidden("open the address with ?token=... once (printed when the app started)")
            if request.method == "POST" and request.headers.get(CSRF_HEADER) != "1":
                return self._forbidden(f"missing the {CSRF_HEADER} header")
            response = await handler(request)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Cache-Control", "no-store")
            return response
        return guard

    # -- routes -------------------------------------------------------------------------------------------------
    def _page(self, name: str):
        from aiohttp import web

        async def page(request):
            return web.Response(text=_static_text(name), content_type="text/html")
        return page

    async def _login(self, request):
        from aiohttp import web

        return web.Response(text=_static_text("login.html"), content_type="text/html")

    async def _static(self, request):
        from aiohttp import web

        name = request.match_info["name"]
        types = {".js": "application/javascript", ".css": "text/css"}
        if name not in ("app.js", "style.css", "report.js"):
            raise web.HTTPNotFound()
        return web.Response(text=_static_text(name), content_type=types[Path(name).suffix])

    async def _video(self, request):
        """multipart/x-mixed-replace JPEGs, the newest frame each time (a slow client skips frames, never queues)."""
        from aiohttp import web

        response = web.StreamResponse(headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"})
        await response.prepare(request)
        self.view.viewers += 1
        sent = 0
        try:
            while not self._closing:
                if self.view.jpeg_seq != sent and self.view.jpeg:
                    jpeg, sent = self.view.jpeg, self.view.jpeg_seq
                    await response.write(b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                         % (BOUNDARY.encode(), len(jpeg), jpeg))
                await asyncio.sleep(self.view.interval / 3)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.view.viewers -= 1
        return response

    async def _events(self, request):
        """Server-Sent Events: the live state a few times a second."""
        from aiohttp import web

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        sent = -1
        try:
            while not self._closing:
                if self.view.state_seq != sent:
                    state, sent = self.view.state, self.view.state_seq
                    await response.write(b"data: " + state + b"\n\n")
                await asyncio.sleep(STATE_INTERVAL)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response

    async def _state(self, request):
        from aiohttp import web

        return web.Response(body=self.view.state, content_type="application/json")

    async def _playlist(self, request):
        """Exactly what P does: the app thread takes the request on its next loop (same service, same coalescing)."""
        from aiohttp import web

        self.view.request_playlist()
        return web.json_response({"requested": True}, status=202)

    async def _dj(self, request):
        """The DJ switch and its target: {"on": true|false} and/or {"target": "match|calm|energize|uplift"}."""
        from aiohttp import web

        from emotion_dj.music.follow import TARGETS

        body = strict_json(await request.read())
        if not isinstance(body, dict) or not body or set(body) - {"on", "target"} \
                or ("on" in body and not isinstance(body["on"], bool)) \
                or ("target" in body and not (isinstance(body["target"], str) and body["target"] in TARGETS)):
            return web.json_response({"error": f'send {{"on": true|false}} and/or {{"target": one of {", ".join(TARGETS)}}}'},
                                     status=400)
        self.view.request_dj(body)
        return web.json_response({"requested": body}, status=202)

    async def _report_svg(self, request):
        from aiohttp import web

        if self.report is None:
            return web.Response(status=404, text="no mood report: start the app with --events FILE to record one\n")
        loop = asyncio.get_running_loop()
        svg = await loop.run_in_executor(None, self._draw_report)
        if svg is None:
            return web.Response(status=404, text="no frames recorded yet\n")
        return web.Response(body=svg, content_type="image/svg+xml")

    def _draw_report(self) -> bytes | None:
        with self._report_lock:  # matplotlib draws one figure at a time
            return self.report()


def strict_json(data: bytes):
    """The JSON value of a request body; None for anything that is not exactly one (bad UTF-8, a duplicate key,
    nesting deeper than Python's recursion allows): the caller answers 400, never 500."""

    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (ValueError, RecursionError):
        return None


def _static_text(name: str) -> str:
    return resources.files("emotion_dj.runtime.web").joinpath("static", name).read_text(encoding="utf-8")

