"""The fleet's door on a network address: an aiohttp server in the driver that checks the token on every request and
passes what it lets through to Ray Serve's proxy, which then listens on loopback only.

Serve's proxy answers some routes of its own (`/-/routes`, `/-/healthz`, ...) before any deployment sees the request,
so a token checked in the ingress deployment cannot cover them; behind this front nothing reaches the proxy without
the token. The front has the live page's limits (runtime/web/limits.py): a connection cap, idle timeouts, bad requests
as a 4xx and one short line.
"""
from __future__ import annotations

import asyncio
import secrets

from emotion_dj.runtime.web.limits import KEEPALIVE_S, MAX_HEADERS, ConnectionCap, capped_site, quiet_accept_errors, quiet_http_logger
from emotion_dj.runtime.web.loop_thread import LoopThread

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}
UPSTREAM_TIMEOUT_S = 180.0  # a playlist POST waits for Spotify


def bearer_ok(header: str, token: str) -> bool:
    """`Authorization: Bearer TOKEN`, compared as bytes: any other header, whatever its characters, is a no."""
    given = header.removeprefix("Bearer ").strip()
    return bool(given) and secrets.compare_digest(given.encode("utf-8", "replace"), token.encode())


class FleetFront(LoopThread):
    thread_name = "fleet-front"

    def __init__(self, host: str, port: int, upstream_port: int, token: str):
        super().__init__()
        self.host, self.port, self.upstream_port, self.token = host, port, upstream_port, token

    def stop(self) -> None:
        self.stop_loop(timeout=3.0)

    def _serve(self) -> None:
        import aiohttp
        from aiohttp import web

        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        quiet_accept_errors()
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=KEEPALIVE_S, logger=quiet_http_logger(),
                               max_headers=MAX_HEADERS)
        try:
            self._loop.run_until_complete(runner.setup())
            self._session = self._loop.run_until_complete(self._open_session(aiohttp))
            site = capped_site()(runner, self.host, self.port, ConnectionCap(runner.server))
            self._loop.run_until_complete(site.start())
        except Exception as error:  # noqa: BLE001 - whatever stops the front is the user's one line, never a hang
            self._error = f"cannot serve the fleet on {self.host}:{self.port}: {getattr(error, 'strerror', None) or error}"
            self._started.set()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._session.close())
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

    @staticmethod
    async def _open_session(aiohttp):
        """The client to Serve's proxy; aiohttp makes it only inside a running loop."""
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_S), auto_decompress=False)

    async def _forward(self, request):
        from aiohttp import ClientError, web

        if not bearer_ok(request.headers.get("Authorization", ""), self.token):
            return web.json_response({"error": "missing or wrong token (Authorization: Bearer TOKEN; printed when the "
                                               "fleet started)"}, status=403)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = request.headers.get("Host", self.host)
        try:
            async with self._session.request(request.method, f"http://127.0.0.1:{self.upstream_port}{request.raw_path}",
                                             headers=headers, data=await request.read(), allow_redirects=False) as answer:
                body = await answer.read()
                kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
                return web.Response(status=answer.status, body=body, headers=kept)
        except (ClientError, asyncio.TimeoutError):
            return web.json_response({"error": "the fleet's service did not answer"}, status=502)
