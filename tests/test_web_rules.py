"""The page's guard in-process (runtime/web/server.py, limits.py): the Host, token, cookie and anti-CSRF rules that
test_web.py drives through the app, here one by one against the aiohttp app itself (mutation testing sees these)."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from emotion_dj.core.errors import UserError
from emotion_dj.runtime.web.limits import host_name
from emotion_dj.runtime.web.server import COOKIE, WebServer, is_loopback, parse_address
from emotion_dj.runtime.web.view import LiveView

TOKEN = "a-token-long-enough-to-keep"


def ask(server: WebServer, *requests: tuple) -> list[tuple[int, dict, str]]:
    """(method, path, headers[, cookies]) each on one client (cookies kept between them) -> (status, headers, body)."""
    async def go():
        async with TestClient(TestServer(server.make_app())) as client:
            answers = []
            for method, path, headers, *cookies in requests:
                if cookies:
                    client.session.cookie_jar.update_cookies(cookies[0])
                async with client.request(method, path, headers=headers, allow_redirects=False) as response:
                    answers.append((response.status, dict(response.headers), await response.text()))
            return answers
    return asyncio.run(go())


@pytest.mark.parametrize("text, address", [("8080", ("127.0.0.1", 8080)), (" 0.0.0.0:0 ", ("0.0.0.0", 0)),
                                           ("[::]:65535", ("::", 65535)), (":9", ("127.0.0.1", 9)),
                                           ("XBOX.local:80", ("XBOX.local", 80))])
def test_serve_addresses(text, address):
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["65536", "-1", "host:", "host:http", ""])
def test_a_bad_serve_address_is_one_line(text):
    with pytest.raises(UserError, match=f"--serve must be PORT or HOST:PORT with a port from 0 to 65535, got '{text}'"):
        parse_address(text)


@pytest.mark.parametrize("host, loopback", [("localhost", True), ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True),
                                            ("0.0.0.0", False), ("192.168.1.2", False), ("evil.example", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("header, name", [("127.0.0.1:8080", "127.0.0.1"), (" LocalHost ", "localhost"),
                                          ("[::1]:80", "::1"), ("[::1]", "::1"), ("[::1", ""), ("::1", "::1"),
                                          ("evil.example:8080", "evil.example")])
def test_host_names(header, name):
    assert host_name(header) == name


def test_a_loopback_page_answers_loopback_names_only_and_needs_no_token():
    server = WebServer(LiveView(), "127.0.0.1", 0, token=TOKEN)
    assert server.token is None and server.stream_token is None and "token" not in server.url
    answers = ask(server, ("GET", "/api/state", {"Host": "127.0.0.1:8080"}), ("GET", "/api/state", {"Host": "[::1]:1"}),
                  ("GET", "/api/state", {"Host": "localhost"}), ("GET", "/api/state", {"Host": "evil.example:8080"}),
                  ("GET", "/api/state", {"Host": "127.0.0.1.evil.example"}))
    assert [status for status, _, _ in answers] == [200, 200, 200, 403, 403]
    assert answers[3][2] == "403 Forbidden: this server answers loopback names only\n"
    assert answers[0][1]["X-Content-Type-Options"] == "nosniff" and answers[0][1]["Cache-Control"] == "no-store"


def test_a_network_page_takes_the_token_once_then_the_cookie():
    server = WebServer(LiveView(), "0.0.0.0", 0, token=TOKEN)
    host = {"Host": "evil.example:8080"}  # any name: a network bind is guarded by the token instead
    bare, wrong, right, then, public = ask(server, ("GET", "/api/state", host), ("GET", "/api/state?token=nope", host),
                                           ("GET", "/api/state?token=" + TOKEN, host), ("GET", "/api/state", host),
                                           ("GET", "/login", {"Host": "x"}))
    assert bare[0] == wrong[0] == 403 and "open the address with ?token=" in bare[2]
    assert right[0] == 302 and right[1]["Location"] == "/api/state"  # the token leaves the address bar
    cookie = right[1]["Set-Cookie"]
    assert f"{COOKIE}={TOKEN}" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Max-Age=2592000" in cookie
    assert then[0] == 200 and public[0] == 200


def test_the_token_redirect_never_leaves_the_server_and_the_login_page_goes_home():
    server = WebServer(LiveView(), "0.0.0.0", 0, token=TOKEN)
    offsite, login = ask(server, ("GET", "///evil.example/?token=" + TOKEN, {"Host": "x"}),
                         ("GET", "/login?token=" + TOKEN, {"Host": "x"}))
    assert offsite[1]["Location"] == "/evil.example/" and login[1]["Location"] == "/"


def test_a_wrong_cookie_or_an_odd_token_is_a_plain_no():
    server = WebServer(LiveView(), "0.0.0.0", 0, token=TOKEN)
    odd, cookie = ask(server, ("GET", "/api/state?token=%FF%00\u00e9", {"Host": "x"}),
                      ("GET", "/api/state", {"Host": "x"}, {COOKIE: "wrong"}))
    assert odd[0] == cookie[0] == 403
    assert not WebServer._token_ok("", "") and not WebServer._token_ok(None, TOKEN)
    assert WebServer._token_ok("\udcff", TOKEN) is False and WebServer._token_ok(TOKEN, TOKEN) is True


def test_a_post_needs_the_apps_header():
    server = WebServer(LiveView(), "127.0.0.1", 0)
    plain, marked = ask(server, ("POST", "/api/dj", {"Host": "localhost"}),
                        ("POST", "/api/dj", {"Host": "localhost", "X-Emotion-DJ": "1", "Content-Type": "application/json"}))
    assert plain[0] == 403 and plain[2] == "403 Forbidden: missing the X-Emotion-DJ header\n"
    assert marked[0] != 403
