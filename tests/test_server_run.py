"""What a run on a server or in a container needs from the app, without a container: the page's token kept in the
config folder and never printed, `emotion-dj health` and `emotion-dj links`, a camera retried with back-off, and
the Spotify login with the browser on another machine (the address pasted back)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emotion_dj.runtime.web.health import Page, check
from emotion_dj.runtime.web.server import WebServer
from emotion_dj.runtime.web.token import stream_token
from emotion_dj.runtime.web.view import LiveView
from tests import processes
from tests.conftest import ROOT
from tests.fake_spotify import FakeSpotify
from tests.test_faults import app_env, one_line_error, run_app, wait_until
from tests.test_music import free_port
from tests.test_web import serve, stop

TOKEN = "server-run-token-0123456789"


def command(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_edge.py", *args], cwd=ROOT, env=app_env(tmp_path, **env), input=stdin,
                          capture_output=True, text=True, timeout=60)


# -- the page's token -----------------------------------------------------------------------------------------------
def test_a_network_page_keeps_a_made_token_in_the_config_folder_never_prints_it_and_reuses_it(tmp_path):
    config = tmp_path / "config"
    tokens = []
    for _ in range(2):  # a restart finds the same token: a bookmark and Home Assistant's camera link keep working
        app, base = serve(tmp_path, host="0.0.0.0", EMOTION_DJ_CONFIG_DIR=str(config))
        try:
            kept = config / "serve-token"
            token = kept.read_text().strip()
            tokens.append(token)
            assert kept.stat().st_mode & 0o777 == 0o600 and config.stat().st_mode & 0o777 == 0o700
            assert requests.get(f"{base}/api/state", timeout=5).status_code == 403
            assert requests.get(f"{base}/api/state", cookies={"emotion_dj_token": token}, timeout=5).status_code == 200
            port = base.rsplit(":", 1)[1]
            links = command(tmp_path, "links", EMOTION_DJ_SERVE=f"0.0.0.0:{port}", EMOTION_DJ_CONFIG_DIR=str(config))
        finally:
            out, err = stop(app)
        printed = app.first_line + out + err
        assert token not in printed and stream_token(token) not in printed, printed
        assert str(kept) in app.first_line  # says where it is
        assert links.returncode == 0 and links.stdout.splitlines() == [
            f"page:  http://127.0.0.1:{port}/?token={token}", f"video: http://127.0.0.1:{port}/video.mjpg?stream={stream_token(token)}"]
    assert tokens[0] == tokens[1]


def test_a_file_in_the_page_tokens_place_that_is_not_a_token_is_refused_and_left_alone(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "serve-token").write_text("my shopping list\n")
    result = run_app(tmp_path, "--headless", "--source", "demo", "--serve", "0.0.0.0:0", EMOTION_DJ_CONFIG_DIR=str(config))
    assert "is not a page token" in one_line_error(result)
    assert (config / "serve-token").read_text() == "my shopping list\n"


# -- emotion-dj health ----------------------------------------------------------------------------------------------
@pytest.fixture
def page():
    server = WebServer(LiveView(), "0.0.0.0", 0, token=TOKEN).start()
    yield server
    server.stop()
    server.view.close()


def test_health_is_healthy_only_while_the_state_is_fresh_and_the_token_is_right(page):
    here = Page(f"http://127.0.0.1:{page.port}/", TOKEN)
    with pytest.raises(ValueError, match="not published a live state yet"):
        check(here, max_age=20, timeout=5)
    page.view.publish_state({"stats": {"frames": 42, "fps": 29.5}, "updated": time.time()})
    assert check(here, max_age=20, timeout=5).startswith("healthy: 42 frames at 29.5 FPS")
    page.view.publish_state({"stats": {"frames": 42, "fps": 29.5}, "updated": time.time() - 60})  # a stuck loop
    with pytest.raises(ValueError, match="last published its state 60 s ago"):
        check(here, max_age=20, timeout=5)
    with pytest.raises(ValueError, match="answered 403"):
        check(Page(here.base, "wrong-token-0123456789"), max_age=20, timeout=5)


def test_health_against_a_running_app_and_after_it_has_gone(tmp_path):
    config = tmp_path / "config"
    app, base = serve(tmp_path, host="0.0.0.0", EMOTION_DJ_CONFIG_DIR=str(config))
    address = f"0.0.0.0:{base.rsplit(':', 1)[1]}"
    token = {"emotion_dj_token": (config / "serve-token").read_text().strip()}
    try:  # the page answers before the frame loop's first state (the health check's start period covers that)
        wait_until(lambda: "updated" in requests.get(f"{base}/api/state", cookies=token, timeout=5).json(), timeout=60,
                   what="the frame loop's first live state")
        healthy = command(tmp_path, "health", EMOTION_DJ_SERVE=address, EMOTION_DJ_CONFIG_DIR=str(config))
    finally:
        stop(app)
    assert healthy.returncode == 0 and healthy.stdout.startswith("healthy: "), (healthy.stdout, healthy.stderr)
    gone = command(tmp_path, "health", EMOTION_DJ_SERVE=address, EMOTION_DJ_CONFIG_DIR=str(config))
    assert "unhealthy: the page at" in one_line_error(gone, code=1)  # 1, never 2: Docker reserves 2
    off = command(tmp_path, "health")
    assert "the page is off" in one_line_error(off, code=1)


# -- a camera that is not there yet ---------------------------------------------------------------------------------
def test_a_missing_camera_is_retried_with_back_off_then_one_line(tmp_path):
    started = time.monotonic()
    result = run_app(tmp_path, "--headless", "--source", "9", "--camera-retries", "2")
    took = time.monotonic() - started
    line = one_line_error(result)
    assert "camera 9 could not be opened" in line and "3 tries over 3 s" in line, line
    assert 3 <= took < 30


def test_a_missing_camera_device_in_a_container_names_the_flag_that_passes_it(monkeypatch):
    from emotion_dj.runtime.sources import capture

    monkeypatch.setattr(capture, "in_container", lambda: True)
    assert capture.camera_failure(1023, "linux").endswith("(run it with --device /dev/video1023)")
    monkeypatch.setattr(capture, "in_container", lambda: False)  # a laptop without a camera
    assert capture.camera_failure(1023, "linux").endswith("try --source demo or a video file")


def test_a_stop_during_the_camera_back_off_ends_the_wait(tmp_path):
    app = processes.start([sys.executable, "run_edge.py", "--headless", "--source", "9", "--camera-retries", "10"],
                          cwd=ROOT, env=app_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # past the model's load, into the back-off (1 + 2 + 4 ... s)
    assert app.poll() is None
    stopped = time.monotonic()
    app.send_signal(signal.SIGTERM)
    _, err = app.communicate(timeout=15)
    assert time.monotonic() - stopped < 3 and app.returncode != 0 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1


# -- the Spotify login, the browser elsewhere -----------------------------------------------------------------------
def login_env(fake: FakeSpotify, tmp_path: Path) -> dict:
    return {"SPOTIPY_CLIENT_ID": "test-client", "SPOTIFY_ACCOUNTS_URL": fake.url, "SPOTIFY_API_URL": f"{fake.url}/v1/",
            "EMOTION_DJ_CONFIG_DIR": str(tmp_path / "config"), "BROWSER": "false"}


def paste_login(fake: FakeSpotify, tmp_path: Path, answer) -> tuple[subprocess.Popen, str, str]:
    """`emotion-dj login --paste`, with the test as the browser on another machine: it opens the printed link, is
    sent on to the redirect URI (nothing listens there), and `answer(address)` is what the user pastes back."""
    login = processes.start([sys.executable, "run_edge.py", "login", "--paste"], cwd=ROOT,
                            env=app_env(tmp_path, **login_env(fake, tmp_path)), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    login.stdout.readline()
    link = login.stdout.readline().strip()
    sent_to = requests.get(link, allow_redirects=False, timeout=10).headers["Location"]
    out, err = login.communicate(answer(sent_to) + "\n", timeout=30)
    return login, out, err


def test_the_login_with_the_browser_on_another_machine_keeps_the_token(fake, tmp_path):
    login, out, err = paste_login(fake, tmp_path, lambda address: address)
    assert login.returncode == 0 and "Logged in to Spotify as" in out, (out, err)
    token = tmp_path / "config" / "spotify-token.json"
    assert str(token) in out and token.stat().st_mode & 0o777 == 0o600
    assert fake.authorize_urls and "state=" in fake.authorize_urls[-1] and "code_challenge=" in fake.authorize_urls[-1]


def test_the_login_with_a_browser_on_this_machine_catches_the_redirect_itself(fake, tmp_path):
    browser = tmp_path / "browser"  # opens the link in the background, as a browser does, and follows the redirect
    browser.write_text(f'#!/bin/sh\n"{sys.executable}" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1])" "$1" &\n')
    browser.chmod(0o700)
    port = free_port()
    result = command(tmp_path, "login", **{**login_env(fake, tmp_path), "BROWSER": f"{browser} %s",
                                            "SPOTIPY_REDIRECT_URI": f"http://127.0.0.1:{port}/callback"})
    assert result.returncode == 0 and "Logged in to Spotify as" in result.stdout, (result.stdout, result.stderr)
    assert (tmp_path / "config" / "spotify-token.json").is_file()


@pytest.mark.parametrize("answer, message", [
    (lambda address: address.replace("state=", "state=forged"), "state mismatch"),
    (lambda address: "https://example.com/elsewhere?code=abc", "not the address the browser was sent to"),
    (lambda address: address.split("?")[0] + "?error=access_denied&" + address.split("&")[-1], "access_denied"),
])
def test_a_pasted_address_that_is_not_this_logins_is_refused(fake, tmp_path, answer, message):
    login, out, err = paste_login(fake, tmp_path, answer)
    assert login.returncode == 2 and len(err.strip().splitlines()) == 1 and message in err, (out, err)
    assert not (tmp_path / "config" / "spotify-token.json").exists()


def test_a_login_with_nothing_pasted_says_how_to_run_it(fake, tmp_path):
    result = command(tmp_path, "login", "--paste", **login_env(fake, tmp_path))
    assert "no address was pasted" in one_line_error(result)


def test_the_login_refuses_to_start_without_credentials(tmp_path):
    result = command(tmp_path, "login", "--paste", EMOTION_DJ_CONFIG_DIR=str(tmp_path / "config"))
    assert "no Spotify credentials" in one_line_error(result)
    assert not os.path.exists(tmp_path / "config" / "spotify-token.json")
