"""Faults and bad input as a user's machine delivers them: signals, stalled and silent streams, outputs that
would destroy inputs, bad configuration, and a misbehaving Spotify. Each ends in one line or a clean summary:
no traceback, no segfault, no hang, nothing lost."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import pytest

from emotion_dj.music.mood import mood_by_name
from emotion_dj.music.service import PlaylistService
from emotion_dj.music.spotify import SpotifySettings
from tests import processes
from tests.conftest import ROOT, WEIGHTS
from tests.media import demo_portrait, moving_faces_clip
from tests.streams import MjpegServer, SilentListener
from tests.test_music import free_port, settings_for


def app_env(tmp_path: Path, **extra: str) -> dict:
    env = {**os.environ, "EMOTION_DJ_CACHE": str(tmp_path / "cache"), "EMOTION_DJ_CONFIG": str(tmp_path / "none.json"),
           **extra}
    for name in ("DISPLAY", "YUNET_MODEL"):
        env.pop(name, None)
    return env


def start_app(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    return processes.start([sys.executable, "run_edge.py", "--headless", "--engine", "onnx", *args], cwd=ROOT,
                           env=app_env(tmp_path, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_app(tmp_path: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_edge.py", *args], cwd=ROOT, env=app_env(tmp_path, **env),
                          capture_output=True, text=True, timeout=timeout)


def wait_until(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def catches_sigterm(pid: int) -> bool:
    """True once the process has installed its own SIGTERM handler (run_edge.py does so first thing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def frame_lines(path: Path) -> list[dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]  # every line parses
    return [r for r in records if "frame" in r]


def frames_on_disk(path: Path) -> int:
    """Whole frame lines written so far (the app may be mid-flush: a last line without its newline is not counted)."""
    if not path.is_file():
        return 0
    return sum(1 for line in path.read_text().splitlines(keepends=True) if line.endswith("\n") and '"frame"' in line)


def video_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    return count


def one_line_error(result, code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- signals ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig, reason", [(signal.SIGTERM, "terminated (SIGTERM)"), (signal.SIGHUP, "hung up (SIGHUP)"),
                                         (signal.SIGINT, "interrupted (Ctrl-C)")])
def test_a_stop_signal_mid_run_keeps_every_event_and_a_playable_recording(tmp_path, sig, reason):
    with MjpegServer() as stream:
        app = start_app(tmp_path, "--source", stream.url, "--events", str(tmp_path / "e.jsonl"),
                        "--record", str(tmp_path / "r.mp4"))
        # the events file is flushed every second: wait for 30 frames on disk, however long a loaded machine takes
        wait_until(lambda: frames_on_disk(tmp_path / "e.jsonl") >= 30, what="30 frames in the events")
        stopped = time.monotonic()
        app.send_signal(sig)
        out, err = app.communicate(timeout=10)
    assert app.returncode == 0, err
    assert time.monotonic() - stopped < 5
    assert reason in out and "Traceback" not in err
    frames = frame_lines(tmp_path / "e.jsonl")
    assert len(frames) >= 30
    assert abs(video_frames(tmp_path / "r.mp4") - len(frames)) <= 1


def test_two_quick_ctrl_c_let_cleanup_finish_then_exit_non_zero(tmp_path):
    with MjpegServer() as stream:
        app = start_app(tmp_path, "--source", stream.url, "--events", str(tmp_path / "e.jsonl"),
                        "--record", str(tmp_path / "r.mp4"))
        wait_until(lambda: (tmp_path / "e.jsonl").is_file() and (tmp_path / "e.jsonl").stat().st_size > 0,
                   what="events")
        app.send_signal(signal.SIGINT)
        time.sleep(0.01)
        app.send_signal(signal.SIGINT)
        out, err = app.communicate(timeout=10)
    assert app.returncode == 130, err
    assert "Traceback" not in err and "interrupted (Ctrl-C)" in out
    frames = frame_lines(tmp_path / "e.jsonl")
    assert abs(video_frames(tmp_path / "r.mp4") - len(frames)) <= 1


def test_ctrl_c_during_start_up_is_one_line(tmp_path):
    app = start_app(tmp_path, "--source", "demo")
    wait_until(lambda: catches_sigterm(app.pid) or app.poll() is not None, what="the signal handlers")
    app.send_signal(signal.SIGINT)  # now the app is importing and loading: long before the first frame
    out, err = app.communicate(timeout=30)
    assert app.returncode in (0, 130), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "interrupted" in out + err


# -- network sources -------------------------------------------------------------------------------------
def test_a_stream_that_stalls_is_an_error_not_a_normal_end(tmp_path):
    with MjpegServer(frames=20) as stream:
        started = time.monotonic()
        result = run_app(tmp_path, "--headless", "--engine", "onnx", "--source", stream.url, "--stream-timeout", "1")
    line = one_line_error(result, code=1)
    assert "stopped delivering frames" in line and time.monotonic() - started < 20


def test_reconnect_tries_the_stream_again_and_says_so(tmp_path):
    with MjpegServer(frames=10) as stream:
        result = run_app(tmp_path, "--headless", "--engine", "onnx", "--source", stream.url, "--stream-timeout", "1",
                         "--reconnect", "2")
        connections = stream.connections
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "reconnecting (1 of 2)" in result.stderr and "reconnecting (2 of 2)" in result.stderr
    assert "2 reconnects tried" in result.stderr and connections == 3


def test_ctrl_c_while_the_stream_is_stalled_never_crashes(tmp_path):
    with MjpegServer(frames=15) as stream:
        app = start_app(tmp_path, "--source", stream.url, "--stream-timeout", "20")
        wait_until(lambda: stream.connections == 1, what="the connection")
        time.sleep(2.0)  # 15 frames are gone in half a second: the capture thread now waits inside read()
        stopped = time.monotonic()
        app.send_signal(signal.SIGINT)
        out, err = app.communicate(timeout=10)
    assert app.returncode == 0, (app.returncode, err)  # a segfault would be -11
    assert time.monotonic() - stopped < 5 and "interrupted (Ctrl-C)" in out and "Traceback" not in err


@pytest.mark.parametrize("scheme", ["http", "rtsp", "udp"])
def test_a_stream_that_never_answers_fails_within_its_timeout_without_leaking_credentials(tmp_path, scheme):
    with SilentListener() as listener:
        started = time.monotonic()
        result = run_app(tmp_path, "--headless", "--engine", "onnx", "--stream-timeout", "1",
                         "--source", f"{scheme}://admin:secret@127.0.0.1:{listener.port}/live")
    line = one_line_error(result)
    assert "could not be opened" in line and "secret" not in result.stderr + result.stdout
    assert time.monotonic() - started < 15


# -- outputs never destroy inputs ---------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--record", "--events"])
def test_an_output_naming_the_input_is_refused(tmp_path, flag):
    clip = tmp_path / "clip.avi"
    moving_faces_clip(clip, [demo_portrait()], frames=10)
    before = clip.read_bytes()
    line = one_line_error(run_app(tmp_path, "--headless", "--source", str(clip), flag, str(tmp_path / "." / "clip.avi")))
    assert "refusing to overwrite" in line and clip.read_bytes() == before


# -- configuration ---------------------------------------------------------------------------------------
def model_with_classes(tmp_path: Path, classes: list[str]) -> str:
    import onnx

    from emotion_dj.export.metadata import attach_metadata

    path = tmp_path / f"classes{len(classes)}.onnx"
    model = onnx.load(str(WEIGHTS / "emotion_net.int8.onnx"))
    onnx.save(model, str(path))
    props = {p.key: p.value for p in model.metadata_props}
    attach_metadata(path, {**props, "classes": json.dumps(classes)})
    return str(path)


BAD_CONFIGURATION = [
    ("tracks-env", lambda p: [], {"EMOTION_DJ_TRACKS": "abc"}, "--tracks: must be an integer"),
    ("max-frames-env", lambda p: [], {"EMOTION_DJ_MAX_FRAMES": "1e3"}, "--max-frames: must be an integer"),
    ("max-frames-negative", lambda p: ["--max-frames", "-5"], {}, "--max-frames: must be an integer of at least 0"),
    ("detect-width-negative", lambda p: ["--detect-width", "-1"], {}, "--detect-width: must be an integer"),
    ("detect-width-tiny", lambda p: ["--detect-width", "5"], {}, "at least 32 pixels"),
    ("huge-camera-index", lambda p: ["--source", "99999999999999999999"], {}, "out of range"),
    ("torch-with-onnx-model", lambda p: ["--engine", "torch", "--model", str(WEIGHTS / "emotion_net.onnx")], {},
     "runs a training checkpoint (.pt)"),
    ("bad-yunet-file", lambda p: ["--detector", "yunet", "--yunet-model", str(garbage(p, "yunet.onnx"))], {},
     "cannot load YuNet model"),
    ("no-classes", lambda p: ["--model", model_with_classes(p, [])], {}, "at least 2 distinct classes"),
    ("three-classes", lambda p: ["--model", model_with_classes(p, ["a", "b", "c"])], {}, "output must be 'probs' N x 3"),
    ("record-unwritable", lambda p: ["--record", "/proc/emotion-dj.mp4"], {}, "cannot write the recording"),
    ("stream-timeout", lambda p: ["--stream-timeout", "0"], {}, "--stream-timeout: must be a number"),
]


def garbage(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(os.urandom(2048))
    return path


@pytest.mark.parametrize("make_args, env, message", [c[1:] for c in BAD_CONFIGURATION], ids=[c[0] for c in BAD_CONFIGURATION])
def test_bad_configuration_is_one_line_and_exit_2(tmp_path, make_args, env, message):
    result = run_app(tmp_path, "--headless", "--source", "demo", *make_args(tmp_path), **env)
    assert message in one_line_error(result)


def test_help_works_whatever_the_environment_holds(tmp_path):
    result = run_app(tmp_path, "--help", EMOTION_DJ_TRACKS="abc", EMOTION_DJ_MAX_FRAMES="1e3")
    assert result.returncode == 0 and "--tracks" in result.stdout


def test_a_full_disk_for_events_is_one_line(tmp_path):
    result = run_app(tmp_path, "--headless", "--engine", "onnx", "--source", "demo", "--events", "/dev/full")
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    assert "No space left on device" in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("env, config", [({"SPOTIFY_TIMEOUT": "abc"}, None), ({}, "[]"), ({}, "{garbage")])
def test_spotify_configuration_never_stops_the_camera_app(tmp_path, env, config):
    if config is not None:
        (tmp_path / "none.json").write_text(config)
    result = run_app(tmp_path, "--headless", "--engine", "onnx", "--source", "demo", "--max-frames", "5", **env)
    assert result.returncode == 0, result.stderr
    playlist = run_app(tmp_path, "playlist", "--mood", "happy", "--no-open", **env)
    assert playlist.returncode == 2 and len(playlist.stderr.strip().splitlines()) == 1 and "Traceback" not in playlist.stderr


# -- Spotify -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content", ["{garbage", "", "[]", "my notes\nline two\n", '{"access_token": 5}'])
def test_a_token_cache_that_holds_no_token_is_refused_and_left_byte_for_byte(fake, tmp_path, monkeypatch, content):
    """SPOTIFY_TOKEN_CACHE=~/notes.txt by mistake: the file is not chmodded, renamed or overwritten by a login."""
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    settings = settings_for(fake, tmp_path, logged_in=False, port=free_port())
    settings.token_cache.write_text(content)
    settings.token_cache.chmod(0o644)
    settings = SpotifySettings(**{**settings.__dict__, "login_timeout": 5.0})
    outcome = PlaylistService(settings, open_links=False).create(mood_by_name("happy"))
    assert not outcome.ok and not opened  # no login is started that would write over it
    assert outcome.message == (f"the Spotify token cache {settings.token_cache} does not hold a Spotify token: left as "
                               "it is; move it away, or set SPOTIFY_TOKEN_CACHE (token_cache in the config file) to "
                               "another file")
    from emotion_dj.music.spotify import MusicError, PrivateTokenCache

    with pytest.raises(MusicError, match="does not hold a Spotify token"):
        PrivateTokenCache(cache_path=str(settings.token_cache)).save_token_to_cache(fake.issue_token())
    assert settings.token_cache.read_text() == content and settings.token_cache.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token.json"]


def test_with_no_token_cache_the_login_times_out_in_one_line(fake, tmp_path, monkeypatch):
    monkeypatch.setattr("webbrowser.open", lambda url: True)  # a browser that the user never logs in with
    settings = settings_for(fake, tmp_path, logged_in=False, port=free_port())
    settings = SpotifySettings(**{**settings.__dict__, "login_timeout": 1.0})
    said = []
    started = time.monotonic()
    outcome = PlaylistService(settings, open_links=False, notify=said.append).create(mood_by_name("happy"))
    assert not outcome.ok and "login timed out" in outcome.message and time.monotonic() - started < 5
    assert any("log in to Spotify in the browser" in s for s in said)


def test_the_login_port_being_busy_is_a_clear_message(fake, tmp_path, monkeypatch):
    monkeypatch.setattr("webbrowser.open", lambda url: True)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        settings = settings_for(fake, tmp_path, logged_in=False, port=busy.getsockname()[1])
        outcome = PlaylistService(settings, open_links=False).create(mood_by_name("happy"))
    assert not outcome.ok and "cannot listen for the Spotify login" in outcome.message


class DripServer:
    """Answers every request with headers, then one byte every `interval` seconds, for ever."""

    def __init__(self, interval: float = 2.0):
        stop = self.stop_event = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                while not stop.wait(interval):
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stop_event.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_whole_playlist_has_a_deadline_even_against_a_dripping_server(fake, tmp_path):
    drip = DripServer(interval=1.0)
    try:
        settings = settings_for(fake, tmp_path, timeout=3.0)
        settings = SpotifySettings(**{**settings.__dict__, "deadline": 3.0,
                                      "api_url": f"http://127.0.0.1:{drip.httpd.server_address[1]}/v1/"})
        said: list[str] = []
        started = time.monotonic()
        outcome = PlaylistService(settings, open_links=False, notify=said.append).create(mood_by_name("happy"))
        elapsed = time.monotonic() - started
    finally:
        drip.close()
    # the first playlist of a day gathers the day's pool: twice the deadline, and the user is told
    assert said == ["gathering your music for today (once a day, up to 6 s)"]
    assert not outcome.ok and "did not finish within 6 s" in outcome.message
    assert elapsed < 9


def test_null_items_are_skipped_and_a_shortfall_is_reported(fake, tmp_path):
    fake.null_items, fake.catalogue = True, 4
    outcome = PlaylistService(settings_for(fake, tmp_path), tracks=100, open_links=False).create(mood_by_name("happy"))
    assert outcome.ok, outcome.message
    found = re.search(r"only (\d+) of 100 tracks", outcome.message)
    (playlist,) = fake.playlists.values()
    # every phrase finds 4 tracks, one of them null, and the 40-request budget ends the search: what was found is
    # used, counted, and said
    assert found and 0 < int(found.group(1)) == len(playlist["items"]) < 100
    assert all(uri in fake.served for uri in playlist["items"])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "https://evil.example/\x1b[2J"])
def test_only_spotify_links_are_opened(fake, tmp_path, monkeypatch, url):
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    fake.playlist_url = url
    outcome = PlaylistService(settings_for(fake, tmp_path), tracks=3).create(mood_by_name("happy"))
    assert outcome.ok and len(opened) == 1 and opened[0].startswith("https://open.spotify.com/playlist/")
    assert url not in outcome.message and "\x1b" not in outcome.message


def test_server_text_is_cleaned_before_it_reaches_the_terminal(fake, tmp_path):
    fake.error_text = "bad\x1b[2J\rthing\n\x07"
    fake.script.append(["GET", "/v1/search", 400, {}, 9])
    outcome = PlaylistService(settings_for(fake, tmp_path), open_links=False).create(mood_by_name("happy"))
    assert not outcome.ok and all(c.isprintable() for c in outcome.message)


def test_ctrl_c_while_the_playlist_command_waits_for_a_login(fake, tmp_path):
    env = app_env(tmp_path, SPOTIPY_CLIENT_ID="test-client", SPOTIFY_API_URL=f"{fake.url}/v1/",
                  SPOTIFY_ACCOUNTS_URL=fake.url, SPOTIFY_TOKEN_CACHE=str(tmp_path / "token.json"),
                  SPOTIPY_REDIRECT_URI=f"http://127.0.0.1:{free_port()}/callback", BROWSER="true")
    app = processes.start([sys.executable, "run_edge.py", "playlist", "--mood", "happy"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = app.stderr.readline()  # the login waits for the browser and says so first
    assert "log in to Spotify in the browser" in first
    stopped = time.monotonic()
    app.send_signal(signal.SIGINT)
    out, err = app.communicate(timeout=10)
    assert app.returncode == 130 and time.monotonic() - stopped < 5
    assert err.strip() == "error: interrupted" and "Traceback" not in err
