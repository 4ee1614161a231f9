"""Any laptop: the app on Windows and macOS, tested here on Linux.

No Windows machine is at hand, so a subprocess simulates one (tests/simulated_windows.py: fcntl, termios, resource,
pwd and grp unimportable; os.O_NOFOLLOW, os.fchmod, os.pread, signal.SIGHUP and signal.SIGKILL gone). The code's
own OS branches (the camera backend, the console handler, file modes, the folders) are taken by patching
sys.platform and os.name in-process. The real OSes run the suite in .github/workflows/ci.yml.
"""
import json
import logging
import os
import subprocess
import sys
import types

import pytest

from tests.conftest import ROOT
from tests.fake_spotify import FakeSpotify

SIMULATED = [sys.executable, str(ROOT / "tests" / "simulated_windows.py")]


def windows(tmp_path, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "EMOTION_DJ_CACHE": str(tmp_path / "cache"), "EMOTION_DJ_DATA": str(tmp_path / "data"),
               "EMOTION_DJ_CONFIG": str(tmp_path / "none.json"), **env}
    environ.pop("DISPLAY", None)
    return subprocess.run([*SIMULATED, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout)


def test_every_module_of_the_package_imports_without_a_posix_module(tmp_path):
    code = ("import importlib, pkgutil, emotion_dj\n"
            "bad = [m.name for m in pkgutil.walk_packages(emotion_dj.__path__, 'emotion_dj.')\n"
            "       if not m.name.endswith('__main__') and not __import__('importlib').util.find_spec(m.name)]\n"
            "failed = []\n"
            "for m in pkgutil.walk_packages(emotion_dj.__path__, 'emotion_dj.'):\n"
            "    if m.name.endswith('__main__'):\n"
            "        continue\n"
            "    try:\n"
            "        importlib.import_module(m.name)\n"
            "    except Exception as error:\n"
            "        failed.append(f'{m.name}: {error!r}')\n"
            "print(len(list(pkgutil.walk_packages(emotion_dj.__path__, 'emotion_dj.'))), failed)\n")
    done = windows(tmp_path, "--preload", "ray", "--exec", code)
    assert done.returncode == 0, done.stderr[-3000:]
    count, failed = done.stdout.split(" ", 1)
    assert int(count) > 90 and failed.strip() == "[]", done.stdout


def test_the_demo_runs_to_its_summary_with_events_and_a_recording(tmp_path):
    summary, events, video = tmp_path / "summary.json", tmp_path / "events.jsonl", tmp_path / "run.mp4"
    done = windows(tmp_path, "--source", "demo", "--headless", "--max-frames", "40", "--events", str(events),
                   "--record", str(video), "--summary-json", str(summary))
    assert done.returncode == 0, done.stderr[-3000:]
    ran = json.loads(summary.read_text())
    assert ran["frames_processed"] == 40 and ran["recorded_frames"] == 40 and ran["error"] is None
    lines = events.read_text().splitlines()
    assert sum(line.startswith('{"frame":') for line in lines) == 40 and video.stat().st_size > 0
    report = windows(tmp_path, "report", str(events), "--out", str(tmp_path / "mood.png"))
    assert report.returncode == 0 and (tmp_path / "mood.png").stat().st_size > 0, report.stderr[-2000:]


def test_playlist_history_and_a_token_saved_and_read_back_without_a_warning(tmp_path):
    fake = FakeSpotify().start()
    try:
        cache = tmp_path / "config" / "spotify-token.json"
        token = json.dumps(fake.issue_token())
        save = ("import json, logging, sys\n"
                "from emotion_dj.music.spotify import PrivateTokenCache\n"
                "logging.basicConfig(level=logging.INFO)\n"
                f"cache = PrivateTokenCache(cache_path={str(cache)!r})\n"
                f"cache.save_token_to_cache(json.loads({token!r}))\n"
                "print(cache.get_cached_token()['access_token'])\n")
        saved = windows(tmp_path, "--exec", save)
        assert saved.returncode == 0, saved.stderr[-2000:]
        assert saved.stdout.strip() == json.loads(token)["access_token"] and saved.stderr == ""  # no warning
        env = {"SPOTIPY_CLIENT_ID": "test-client", "SPOTIFY_API_URL": f"{fake.url}/v1/", "SPOTIFY_ACCOUNTS_URL": fake.url,
               "SPOTIFY_TOKEN_CACHE": str(cache), "EMOTION_DJ_PLAYLIST_INTERVAL": "0"}
        playlist = windows(tmp_path, "playlist", "--mood", "happy", "--tracks", "5", "--no-open", **env)
        assert playlist.returncode == 0 and "with 5 tracks" in playlist.stdout, playlist.stderr[-2000:]
        history = windows(tmp_path, "history", **env)
        assert history.returncode == 0 and len(history.stdout.splitlines()) == 5, history.stderr[-2000:]
    finally:
        fake.stop()


def test_a_title_the_console_cannot_show_is_escaped_not_a_traceback(tmp_path):
    from emotion_dj.music.store import MusicStore, Play

    MusicStore(tmp_path / "data" / "music.sqlite3").record([Play("spotify:track:x", "Ночь \u2603 \U0001f3b5", "Кино", "why")])
    done = windows(tmp_path, "history", PYTHONIOENCODING="cp1252")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "\\u041d" in done.stdout or "\\xd0" in done.stdout or "?" in done.stdout


# -- the code's own OS branches, in-process -------------------------------------------------------------------------
def test_windows_opens_cameras_with_directshow_and_the_setting_overrides(monkeypatch):
    import cv2

    from emotion_dj.runtime.sources import SourceError
    from emotion_dj.runtime.sources.capture import camera_backend

    assert camera_backend({}, "win32") == cv2.CAP_DSHOW and camera_backend({}, "linux") == cv2.CAP_ANY
    monkeypatch.delenv("OPENCV_VIDEOIO_MSMF_ENABLE_HW_TRANSFORMS", raising=False)
    assert camera_backend({"EMOTION_DJ_CAMERA_BACKEND": "msmf"}, "win32") == cv2.CAP_MSMF
    assert os.environ["OPENCV_VIDEOIO_MSMF_ENABLE_HW_TRANSFORMS"] == "0"  # its slow hardware transform off
    with pytest.raises(SourceError, match="EMOTION_DJ_CAMERA_BACKEND must be auto or one of"):
        camera_backend({"EMOTION_DJ_CAMERA_BACKEND": "quicktime"}, "darwin")


def test_a_mac_camera_that_cannot_open_says_how_to_grant_access():
    from emotion_dj.runtime.sources.capture import camera_failure

    assert "System Settings > Privacy & Security > Camera" in camera_failure(0, "darwin")
    assert "Privacy" not in camera_failure(0, "linux")


def test_folders_are_the_platforms_and_an_earlier_releases_stay_found(tmp_path, monkeypatch):
    import platformdirs

    from emotion_dj.core import paths

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app, appauthor=None: str(tmp_path / "Library" / app))
    assert paths._root("data", {}, "darwin") == tmp_path / "Library" / "emotion-dj"
    (tmp_path / ".local" / "share" / "emotion-dj").mkdir(parents=True)  # a Mac user of an earlier release
    assert paths._root("data", {}, "darwin") == tmp_path / ".local" / "share" / "emotion-dj"
    # Linux: the XDG folders, as always
    assert paths._root("config", {"XDG_CONFIG_HOME": str(tmp_path / "x")}, "linux") == tmp_path / "x" / "emotion-dj"
    assert paths.data_root({"EMOTION_DJ_DATA": str(tmp_path / "d")}) == tmp_path / "d"


def test_a_token_read_on_windows_is_not_chmodded_nor_said_to_be(tmp_path, monkeypatch, caplog):
    from emotion_dj.music import spotify
    from emotion_dj.music.spotify import PrivateTokenCache

    cache = tmp_path / "token.json"
    cache.write_text(json.dumps({"access_token": "t"}))
    cache.chmod(0o666)  # what every file reports on Windows
    monkeypatch.setattr(spotify, "POSIX", False)
    with caplog.at_level(logging.WARNING):
        assert PrivateTokenCache(cache_path=str(cache)).get_cached_token()["access_token"] == "t"
    assert cache.stat().st_mode & 0o777 == 0o666 and "private" not in caplog.text


def test_closing_the_windows_console_stops_like_ctrl_c_and_waits_for_the_outputs(monkeypatch):
    from emotion_dj.runtime import shutdown

    registered = []
    kernel32 = types.SimpleNamespace(SetConsoleCtrlHandler=lambda handler, add: registered.append(handler))
    fake_ctypes = types.SimpleNamespace(WINFUNCTYPE=lambda *types_: (lambda f: f), c_bool=bool, c_uint=int,
                                        windll=types.SimpleNamespace(kernel32=kernel32))
    monkeypatch.setitem(sys.modules, "ctypes", fake_ctypes)
    monkeypatch.setattr(shutdown, "WINDOWS", True)
    monkeypatch.setattr(shutdown, "CLOSE_GRACE_S", 0.2)
    flag = shutdown.StopFlag()
    monkeypatch.setattr(shutdown, "SIGNALS", ())
    flag.install()
    (handler,) = registered
    assert handler(0) is False and not flag.is_set()  # Ctrl-C comes as a signal, not here
    assert handler(2) is True and flag.is_set() and flag.reason == "the console was closed"
    flag.done()
    assert handler(2) is True  # once the outputs are closed, it returns at once


def test_the_port_check_means_what_it_says_on_every_os():
    from emotion_dj.runtime.web import limits

    assert limits.REUSE_ADDRESS is (os.name == "posix")  # on Windows SO_REUSEADDR would let a second app bind
