"""The browser login's local listener: waits for Spotify's redirect to http://127.0.0.1:PORT/callback; or, with the
browser on another machine, the address it was sent to, pasted back (code_from_pasted).

OAuth 2.0 as RFC 6749 (10.12) asks: a random `state` goes out with each login and the callback must bring it
back, so a forged `/callback?code=...` from another page cannot log the app in to the forger's account (login
CSRF) nor end the user's own login. A request with a wrong or missing state, or to another path (a favicon
fetch), gets an error page and the listener keeps waiting for the real callback until its timeout.
"""
from __future__ import annotations

import html
import secrets
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse


class LoginError(Exception):
    """The login failed or timed out; one line for the user."""


def new_state() -> str:
    return secrets.token_urlsafe(24)


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self):  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path.rstrip("/") != self.server.callback_path.rstrip("/"):
            return self._page(404, "Not the Spotify login callback.")
        if not secrets.compare_digest(query.get("state", ""), self.server.state):
            self.server.rejected += 1
            return self._page(400, "This login link is not the one Emotion DJ started (state mismatch): ignored. "
                                   "Log in from the window Emotion DJ opened.")
        if "code" in query:
            self.server.code = query["code"]
            return self._page(200, "Logged in to Spotify. You can close this window.")
        self.server.error = query.get("error", "no code in the callback")
        return self._page(200, f"Spotify login refused: {query.get('error', 'no code')}.")

    def _page(self, status: int, text: str) -> None:
        body = f"<!doctype html><title>Emotion DJ</title><p>{html.escape(text)}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        return  # the URL holds the code: never print it


class _CallbackServer(HTTPServer):
    def __init__(self, port: int, callback_path: str, state: str):
        super().__init__(("127.0.0.1", port), _CallbackHandler)
        self.callback_path, self.state = callback_path or "/", state
        self.code: str | None = None
        self.error: str | None = None
        self.rejected = 0


def code_from_pasted(address: str, state: str, callback_path: str) -> str:
    """The code in the address a browser on another machine was sent to, pasted by the user: the same checks as the
    listener's (the right callback, the login's own state), so a pasted link that is not this login's is refused."""
    url = urlparse(address.strip())
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    if not url.query or url.path.rstrip("/") != (callback_path or "/").rstrip("/"):
        raise LoginError("that is not the address the browser was sent to after the login (it starts with the "
                         "redirect URI and holds ?code=...)")
    if not secrets.compare_digest(query.get("state", "").encode(), state.encode()):
        raise LoginError("that address is from another login, not the one this command started (state mismatch): "
                         "open the link printed above")
    if "code" not in query:
        raise LoginError(f"Spotify login refused: {query.get('error', 'no code in the address')}")
    return query["code"]


def open_listener(port: int, callback_path: str, state: str) -> _CallbackServer:
    """Bind the listener before the browser opens (OSError if the port is taken)."""
    return _CallbackServer(port, callback_path, state)


def wait_for_code(server: _CallbackServer, timeout: float) -> str:
    """Serve requests until the callback with the right state arrives (its code) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    try:
        while server.code is None and server.error is None:
            left = deadline - time.monotonic()
            if left <= 0:
                extra = f" ({server.rejected} forged or stale callback(s) ignored)" if server.rejected else ""
                raise LoginError(f"Spotify login timed out after {timeout:g} s{extra}")
            server.timeout = left
            server.handle_request()  # returns after one request, or after `left` seconds with none
    finally:
        server.server_close()
    if server.error is not None:
        raise LoginError(f"Spotify login refused: {server.error}")
    return server.code
