"""`emotion-dj --dj`: the app plays by itself through the stand-in's player, says what and why on the page, stops
on SIGTERM in seconds, and a Spotify that never answers costs the frame loop nothing."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from emotion_dj.runtime.app import App, RunConfig, build_parts
from tests import processes
from tests.conftest import ROOT
from tests.fake_catalog import Catalog
from tests.fake_spotify import FakeSpotify
from tests.streams import MjpegServer, SilentListener
from tests.test_music import free_port, settings_for


def wait_for(condition, budget: float, what: str):
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {budget:g} s")


def test_the_app_with_dj_plays_by_itself_shows_why_and_stops_on_sigterm(tmp_path):
    fake = FakeSpotify()
    fake.catalog = Catalog(seed=7)
    fake.track_seconds = 6.0
    fake.start()
    settings = settings_for(fake, tmp_path)
    port = free_port()
    env = {**os.environ, "SPOTIPY_CLIENT_ID": "test-client", "SPOTIFY_API_URL": settings.api_url,
           "SPOTIFY_ACCOUNTS_URL": fake.url, "SPOTIFY_TOKEN_CACHE": str(settings.token_cache),
           "EMOTION_DJ_DATA": str(tmp_path / "data"), "BROWSER": "true"}
    try:
        with MjpegServer(frames=100_000) as stream:
            app = processes.start([sys.executable, "-m", "emotion_dj", "--source", stream.url, "--headless", "--dj",
                                   "--serve", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

            def dj_state():
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=2) as answer:
                        dj = (json.loads(answer.read()).get("music") or {}).get("dj") or {}
                except OSError:
                    return None
                return dj if dj.get("now_playing") else None

            state = wait_for(dj_state, 120, "the DJ playing, as the page shows it")
            assert fake.played and fake.player_writes[0][1] == "/v1/me/player/play"  # it started by itself
            assert state["on"] and state["target"] == "match" and state["room"]["mood"]
            assert "found by '" in state["now_playing"]["why"] and state["now_playing"]["title"]
            wait_for(lambda: len(fake.played) >= 3, 60, "two more tracks begun from the queue the DJ keeps")
            gaps = [b - a for (a, _), (b, _) in zip(fake.player_writes, fake.player_writes[1:])]
            assert min(gaps) >= 2.9, gaps  # at most one write every few seconds
            asked = time.monotonic()
            app.send_signal(signal.SIGTERM)
            out, err = app.communicate(timeout=30)
            took = time.monotonic() - asked
    finally:
        fake.stop()
    assert app.returncode == 0, err[-2000:]
    assert took < 5, f"SIGTERM took {took:.1f} s"
    assert "DJ: playing" in err


def test_a_spotify_that_never_answers_costs_the_frame_loop_nothing(tmp_path, monkeypatch):
    with SilentListener() as silent:  # accepts the connection, never says a word
        cache = tmp_path / "token.json"
        cache.write_text(json.dumps({"access_token": "t", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "r",
                                     "scope": "playlist-modify-private playlist-modify-public user-top-read "
                                              "user-read-recently-played user-read-playback-state "
                                              "user-modify-playback-state user-read-currently-playing",
                                     "expires_at": int(time.time()) + 3600}))
        monkeypatch.setenv("SPOTIPY_CLIENT_ID", "test-client")
        monkeypatch.setenv("SPOTIFY_API_URL", f"http://127.0.0.1:{silent.port}/v1/")
        monkeypatch.setenv("SPOTIFY_ACCOUNTS_URL", f"http://127.0.0.1:{silent.port}")
        monkeypatch.setenv("SPOTIFY_TOKEN_CACHE", str(cache))
        monkeypatch.setenv("SPOTIFY_TIMEOUT", "30")  # each request hangs for longer than the whole run
        config = RunConfig(source="demo", engine="onnx", detector="yunet", headless=True, pace=True, max_frames=90,
                           open_links=False, dj=True)
        app = App(config, build_parts(config))
        started = time.monotonic()
        summary = app.run()
        took = time.monotonic() - started
    assert summary.frames_processed == 90 and summary.error is None
    # 90 frames at the source's 30 FPS are 3 s; the DJ's hung request (30 s) is abandoned at exit after 1 s
    assert took < 3 + 1 + 3, f"the run took {took:.1f} s"
    assert app.dj.playing is None  # nothing ever answered: nothing is playing, and nothing waited for it
