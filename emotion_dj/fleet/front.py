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

from emotion_dj.runtime.web.limited_server import LimitedServer

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}
UPSTREAM_TIMEOUT_S = 180.0  # a playlist POST waits for Spotify


def bearer_ok(header: str, token: str) -> bool:
    """`Authorization: Bearer TOKEN`, compared as bytes: any other header, whatever its characters, is a no."""
    given = header.removeprefix("Bearer ").strip()
    return bool(given) and secrets.compare_digest(given.encode("utf-8", "replace"), token.encode())


class FleetFront(LimitedServer):
    thread_name = "fleet-front"
    what = "serve the fleet"

    def __init__(self, host: str, port: int, upstream_port: int, token: str):
        super().__init__(host, port)
        self.upstream_port, self.token = upstream_port, token

    def stop(self) -> None:
        self.stop_loop(timeout=3.0)

    def make_app(self):
        from aiohttp import web

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        return app

    async def on_start(self) -> None:
        import aiohttp  # the client to Serve's proxy; aiohttp makes it only inside a running loop

        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_S), auto_decompress=False)

    async def on_stop(self) -> None:
        await self._session.close()

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
