"""The page's server under hostile or broken clients (issue 34's cases), against the server itself: malformed
requests, tokens with any characters, Host headers, redirects, the stream-only token, a half-open socket flood
under a low descriptor limit."""
from __future__ import annotations

import logging
import resource
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from emotion_dj.core.errors import UserError
from tests.conftest import ROOT

pytest.importorskip("aiohttp", reason="--serve needs aiohttp (pip install \".[serve]\")")
from emotion_dj.runtime.web.server import WebServer  # noqa: E402 - after the skip
from emotion_dj.runtime.web.view import LiveView  # noqa: E402

TOKEN = "test-token-0123456789"


@pytest.fixture
def network_server():
    """A server bound as on a LAN (every route needs the token), reached on 127.0.0.1."""
    server = WebServer(LiveView(), "0.0.0.0", 0, TOKEN).start()
    yield server, f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
def loopback_server():
    server = WebServer(LiveView(), "127.0.0.1", 0).start()
    yield server, server.port
    server.stop()


def raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes as they are (no client library fixes them up) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


MALFORMED = {
    "a 9 KB URL": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "a 9 KB header": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
    "too many headers": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
    "HTTP/1.1 without Host": b"GET /api/state HTTP/1.1\r\nConnection: close\r\n\r\n",
    "not HTTP": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",
}


@pytest.mark.parametrize("what", list(MALFORMED))
def test_a_malformed_request_is_a_4xx_and_at_most_one_short_log_line_even_a_hundred_times(what, network_server, caplog):
    server, _ = network_server
    with caplog.at_level(logging.DEBUG):
        answers = [raw(server.port, MALFORMED[what]) for _ in range(100)]
    assert {400 <= status(a) < 500 for a in answers} == {True}, {status(a) for a in answers}
    assert not any(b"Traceback" in a or b"File \"" in a for a in answers)
    lines = [r for r in caplog.records if r.name.startswith(("aiohttp", "emotion_dj.web", "asyncio"))]
    assert len(lines) <= 1, [r.getMessage() for r in lines]
    assert all(r.exc_info is None and "\n" not in r.getMessage() and len(r.getMessage()) < 200 for r in lines)


@pytest.mark.parametrize("token", ["tökén", "\u2603" * 20, "%FF%FE", TOKEN + "\u00e9"])
def test_a_token_with_any_characters_is_a_plain_403(token, network_server):
    _, base = network_server
    assert requests.get(f"{base}/api/state", params={"token": token}, timeout=5).status_code == 403
    cookie = {"Cookie": "emotion_dj_token=" + requests.utils.quote(token, safe="%")}
    assert requests.get(f"{base}/api/state", headers=cookie, timeout=5).status_code == 403
    raw_cookie = raw(network_server[0].port, b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: emotion_dj_token="
                     + token.encode() + b"\r\nConnection: close\r\n\r\n")
    assert status(raw_cookie) == 403


def test_a_host_header_without_a_port_is_the_default_port_and_rebinding_is_still_refused(loopback_server):
    _, port = loopback_server
    for host in (b"127.0.0.1", b"localhost", b"[::1]", b"127.0.0.1:%d" % port, b"LOCALHOST:%d" % port):
        answer = raw(port, b"GET /api/state HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        assert status(answer) == 200, host
    for host in (b"evil.example:%d" % port, b"evil.example", b"127.0.0.1.evil.example:%d" % port):
        answer = raw(port, b"GET /api/state HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        assert status(answer) == 403, host


def test_the_login_page_gets_its_stylesheet_and_nothing_else_is_open(network_server):
    _, base = network_server
    assert requests.get(base + "/login", timeout=5).status_code == 200
    assert requests.get(base + "/static/style.css", timeout=5).status_code == 200
    for path in ("/static/app.js", "/static/report.js", "/", "/api/state"):
        assert requests.get(base + path, timeout=5).status_code == 403, path


def test_the_token_redirect_stays_on_this_server(network_server):
    server, _ = network_server
    answer = raw(server.port, b"GET //evil.example/?token=" + TOKEN.encode()
                 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert status(answer) == 302
    location = next(line for line in answer.split(b"\r\n") if line.lower().startswith(b"location:")).split(b":", 1)[1].strip()
    assert location.startswith(b"/") and not location.startswith(b"//"), location


def test_a_short_token_is_refused_at_start_and_none_means_a_random_one():
    for short in ("short", "x" * 15):
        with pytest.raises(UserError, match="at least 16 characters"):
            WebServer(LiveView(), "0.0.0.0", 0, short)
    WebServer(LiveView(), "0.0.0.0", 0, "x" * 16)
    random = [WebServer(LiveView(), "0.0.0.0", 0).token for _ in range(2)]
    assert random[0] != random[1] and all(len(t) >= 16 for t in random)


def test_the_stream_token_opens_the_video_for_a_player_and_nothing_else(network_server):
    server, base = network_server
    assert server.stream_url.endswith(f"/video.mjpg?stream={server.stream_token}") and server.stream_token != TOKEN
    with requests.get(f"{base}/video.mjpg", params={"stream": server.stream_token}, stream=True, timeout=5,
                      allow_redirects=False) as video:  # no cookie, no redirect: what VLC needs
        assert video.status_code == 200 and video.headers["Content-Type"].startswith("multipart/x-mixed-replace")
    assert requests.get(f"{base}/video.mjpg", params={"stream": "wrong"}, timeout=5).status_code == 403
    for path in ("/api/state", "/", "/events", "/report.svg"):
        assert requests.get(base + path, params={"stream": server.stream_token}, timeout=5).status_code == 403, path
    post = requests.post(f"{base}/api/playlist", params={"stream": server.stream_token}, headers={"X-Emotion-DJ": "1"},
                         timeout=5)
    assert post.status_code == 403
    again = WebServer(LiveView(), "0.0.0.0", 0, TOKEN)  # the same token gives the same stream token after a restart
    assert again.stream_token == server.stream_token
    assert WebServer(LiveView(), "0.0.0.0", 0, TOKEN + "x").stream_token != server.stream_token


SERVER_WITH_FEW_DESCRIPTORS = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    from emotion_dj.core.cli import setup_logging
    from emotion_dj.runtime.web.server import WebServer
    from emotion_dj.runtime.web.view import LiveView
    setup_logging(False)
    server = WebServer(LiveView(), "0.0.0.0", 0, sys.argv[1]).start()
    print(server.port, flush=True)
    sys.stdin.read()
""")


def test_a_flood_of_half_open_sockets_under_a_low_descriptor_limit_still_answers_a_real_client(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:  # the test's own side of the flood
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    server = subprocess.Popen([sys.executable, "-c", SERVER_WITH_FEW_DESCRIPTORS, TOKEN], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    flood: list[socket.socket] = []
    try:
        port = int(server.stdout.readline())
        for _ in range(1100):  # connect, say nothing, hold on: four times the server's descriptors
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            flood.append(s)
        time.sleep(1.0)
        started = time.monotonic()
        answer = requests.get(f"http://127.0.0.1:{port}/api/state", cookies={"emotion_dj_token": TOKEN}, timeout=15)
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - started < 15
    finally:
        for s in flood:
            s.close()
        server.kill()
        _, err = server.communicate(timeout=10)
    assert len(err) < 2000, err[-2000:]
    assert "Traceback" not in err
    # it took its connections a few at a time, judging each batch, and never ran out of descriptors (when it did,
    # asyncio stopped accepting for a second at a time and the real client waited behind the flood)
    assert "could not accept" not in err, err
