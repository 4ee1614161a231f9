"""Music: the real spotipy client against a local server behaving like Spotify's 2026 API."""
import json
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest
import requests

from emotion_dj.music.mood import MOODS, mood_by_name, snapshot
from emotion_dj.music.service import PlaylistService
from emotion_dj.music.spotify import SpotifySettings, auth_manager
from tests.conftest import ROOT
from tests.fake_spotify import FakeSpotify

ALLOWED = {("GET", "/v1/me"), ("GET", "/v1/search"), ("POST", "/v1/me/playlists"), ("GET", "/v1/me/top/artists"),
           ("GET", "/v1/me/top/tracks"), ("GET", "/v1/me/player/recently-played"), ("GET", "/v1/me/playlists"),
           ("GET", "/v1/playlists/{id}/items")}


def settings_for(fake: FakeSpotify, tmp_path, logged_in: bool = True, timeout: float = 10.0,
                 port: int | None = None) -> SpotifySettings:
    """Settings against the fake; the login port is a free one (a fixed 8888 collides with a user's own app)."""
    port = port or free_port()
    cache = tmp_path / "token.json"
    if logged_in:
        cache.write_text(json.dumps(fake.issue_token()))
    return SpotifySettings(client_id="test-client", client_secret=None, redirect_uri=f"http://127.0.0.1:{port}/callback",
                           token_cache=cache, api_url=f"{fake.url}/v1/", accounts_url=fake.url, timeout=timeout)


def endpoints_used(fake: FakeSpotify) -> set[tuple[str, str]]:
    """The calls made, with playlist ids folded; any other /playlists/ path (e.g. the forbidden /tracks) stays as
    it is, so it shows up as not allowed."""
    return {(m, re.sub(r"^/v1/playlists/[A-Za-z0-9]+/items$", "/v1/playlists/{id}/items", p)) for m, p in fake.calls}


def test_every_emotion_has_a_mood_and_a_point():
    from emotion_dj.music.plane import CLASS_POINTS
    from emotion_dj.train.ferplus import FERPLUS_CLASSES

    assert set(MOODS) == set(FERPLUS_CLASSES) == set(CLASS_POINTS)  # FER2013's 7 classes and FER+'s contempt
    assert all(m.web_search and m.title and m.why for m in MOODS.values())
    assert mood_by_name("Feel Good").emotion == "happy" and mood_by_name("SAD").title == "Comfort"
    with pytest.raises(ValueError, match="unknown mood"):
        mood_by_name("joyful")


def test_snapshot_uses_the_models_class_list():
    snap = snapshot(("angry", "happy"), [0.2, 0.8], face_id=3)
    assert snap.mood.emotion == "happy" and snap.confidence == 0.8 and snap.face_id == 3


def test_a_store_that_cannot_be_used_is_its_own_line_on_p_not_a_spotify_error_and_the_playlist_is_made(fake, tmp_path):
    import sqlite3

    from emotion_dj.music.store import APPLICATION_ID, SCHEMA_VERSION, MusicStore

    path = tmp_path / "music.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")  # written by a newer Emotion DJ
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    service = PlaylistService(settings_for(fake, tmp_path), open_links=False, store=MusicStore(path))
    outcome = service.create(mood_by_name("happy"))
    assert outcome.ok and len(fake.playlists) == 1
    assert outcome.message.endswith(f"; not recorded in the history: {path} was written by a newer Emotion DJ (schema 99, "
                                    f"this one knows {SCHEMA_VERSION}): upgrade, or move the file away")


@pytest.mark.parametrize("tracks", [20, 7, 35])
def test_playlist_with_unique_tracks_through_allowed_endpoints_only(fake, tmp_path, tracks):
    outcome = PlaylistService(settings_for(fake, tmp_path), tracks=tracks, open_links=False).create(mood_by_name("happy"))
    assert outcome.ok, outcome.message
    (playlist,) = fake.playlists.values()
    assert len(playlist["items"]) == tracks == len(set(playlist["items"]))
    assert playlist["public"] is False and "Feel Good" in playlist["name"] and playlist["description"]
    assert endpoints_used(fake) <= ALLOWED | {("POST", "/v1/playlists/{id}/items")}


def test_search_results_are_deduplicated_by_title_and_artist(fake, tmp_path):
    service = PlaylistService(settings_for(fake, tmp_path), tracks=30, open_links=False)
    assert service.create(mood_by_name("sad")).ok
    (playlist,) = fake.playlists.values()
    uris = playlist["items"]
    songs = [fake.served[u] for u in uris]
    assert len(set(songs)) == len(songs) == 30


def test_no_credentials_opens_the_web_search_without_any_api_call(fake, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))
    settings = SpotifySettings(None, None, f"http://127.0.0.1:{free_port()}/callback", tmp_path / "t.json", fake.url + "/v1/", fake.url)
    outcome = PlaylistService(settings).create(mood_by_name("fear"))
    assert outcome.ok and "no Spotify credentials" in outcome.message
    assert opened == ["https://open.spotify.com/search/calm%20ambient"] and fake.calls == []


FAILURES = [
    (("GET", "/v1/me", 401, {}, 9), "rejected the login (401)"),
    (("POST", "/v1/me/playlists", 403, {}, 9), "refused the request (403)"),
    (("GET", "/v1/search", 429, {"Retry-After": "1"}, 99), "rate-limiting"),
    (("GET", "/v1/search", 503, {}, 99), "having trouble (503)"),
]


@pytest.mark.parametrize("rule, message", FAILURES, ids=[m for _, m in FAILURES])
def test_each_failure_gives_its_message_and_no_crash(fake, tmp_path, rule, message):
    fake.script.append(list(rule))
    outcome = PlaylistService(settings_for(fake, tmp_path), open_links=False).create(mood_by_name("happy"))
    assert not outcome.ok and message in outcome.message
    assert "secretvalue" not in outcome.message


def test_429_honours_retry_after_then_succeeds(fake, tmp_path):
    fake.script.append(rule := ["GET", "/v1/search", 429, {"Retry-After": "1"}, 1])
    started = time.monotonic()
    outcome = PlaylistService(settings_for(fake, tmp_path), tracks=5, open_links=False).create(mood_by_name("happy"))
    assert outcome.ok and "with 5 tracks" in outcome.message, outcome.message
    assert time.monotonic() - started >= 1.0 and rule[4] == 0  # the 429 was answered, waited for, and retried


def test_a_long_retry_after_is_capped_at_5_seconds(fake, tmp_path):
    fake.script.append(["GET", "/v1/search", 429, {"Retry-After": "60"}, 1])
    started = time.monotonic()
    outcome = PlaylistService(settings_for(fake, tmp_path), tracks=5, open_links=False).create(mood_by_name("happy"))
    waited = time.monotonic() - started
    assert outcome.ok, outcome.message
    assert 4.5 <= waited < 15  # waited the cap, not 60 s


@pytest.mark.parametrize("failures, ok", [(3, True), (4, False)])
def test_5xx_answers_are_retried_three_times(fake, tmp_path, failures, ok):
    fake.script.append(["GET", "/v1/me", 503, {}, failures])
    outcome = PlaylistService(settings_for(fake, tmp_path), tracks=5, open_links=False).create(mood_by_name("happy"))
    assert outcome.ok is ok, outcome.message
    assert fake.calls.count(("GET", "/v1/me")) == min(failures + 1, 4)  # the first try and at most 3 retries


def test_timeout_and_offline(fake, tmp_path):
    fake.delays["/v1/me"] = 2.0
    slow = PlaylistService(settings_for(fake, tmp_path, timeout=0.5), open_links=False).create(mood_by_name("happy"))
    assert not slow.ok and "timeout" in slow.message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    offline = settings_for(fake, tmp_path)
    offline = SpotifySettings(**{**offline.__dict__, "api_url": f"http://127.0.0.1:{dead_port}/v1/"})
    outcome = PlaylistService(offline, open_links=False).create(mood_by_name("happy"))
    assert not outcome.ok and "offline" in outcome.message


def test_the_server_refuses_what_the_2026_api_removed_and_a_playlist_needs_none_of_it(fake, tmp_path):
    token = json.loads(settings_for(fake, tmp_path).token_cache.read_text())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{fake.url}/v1/recommendations", headers=headers).status_code == 403
    assert requests.get(f"{fake.url}/v1/search?q=x&type=track&limit=50", headers=headers).status_code == 400
    assert requests.post(f"{fake.url}/v1/users/tester/playlists", headers=headers, json={}).status_code == 403
    # the app itself, through the real service: a whole playlist from what a development-mode app may still call
    fake.calls.clear()
    outcome = PlaylistService(settings_for(fake, tmp_path), tracks=20, open_links=False).create(mood_by_name("sad"))
    assert outcome.ok and outcome.url, outcome.message
    (made,) = fake.playlists.values()
    assert len(made["items"]) == 20
    removed = {path for _, path in fake.calls if path.startswith(("/v1/recommendations", "/v1/audio-features",
                                                                 "/v1/users/")) or "related-artists" in path}
    assert not removed and ("POST", "/v1/me/playlists") in fake.calls


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pkce_login_end_to_end_with_a_local_redirect_listener(fake, tmp_path, monkeypatch, caplog):
    """The browser is played by a thread that follows the authorize redirect to spotipy's own listener."""
    def browser(url):
        threading.Thread(target=lambda: requests.get(url, timeout=10), daemon=True).start()
        return True

    monkeypatch.setattr("webbrowser.open", browser)
    settings = settings_for(fake, tmp_path, logged_in=False, port=free_port())
    caplog.set_level(logging.DEBUG)
    manager = auth_manager(settings)
    token = manager.get_access_token(check_cache=False)
    assert token in fake.tokens
    assert stat.S_IMODE(os.stat(settings.token_cache).st_mode) == 0o600
    assert json.loads(settings.token_cache.read_text())["access_token"] == token
    # and the client then works with that cached token, still without leaking it
    outcome = PlaylistService(settings, tracks=3, open_links=False).create(mood_by_name("neutral"))
    assert outcome.ok, outcome.message
    assert token not in caplog.text and "secretvalue" not in caplog.text


@pytest.mark.parametrize("secret", [None, "client-secret"], ids=["pkce", "client-secret"])
def test_login_ignores_forged_callbacks_and_stray_requests(fake, tmp_path, monkeypatch, secret):
    """Login CSRF: a callback without the login's own `state` (or a favicon fetch) neither logs in nor ends the
    login; the real redirect that follows still does."""
    port = free_port()
    visited, threads = [], []

    def browser(url):
        def visit():
            base = f"http://127.0.0.1:{port}"
            visited.append(requests.get(f"{base}/callback?code=forged&state=anything", timeout=10).status_code)
            visited.append(requests.get(f"{base}/callback?code=forged", timeout=10).status_code)
            visited.append(requests.get(f"{base}/favicon.ico", timeout=10).status_code)
            visited.append(requests.get(url, timeout=10).status_code)  # the real login, through the fake Spotify
        threads.append(threading.Thread(target=visit, daemon=True))
        threads[-1].start()
        return True

    monkeypatch.setattr("webbrowser.open", browser)
    settings = settings_for(fake, tmp_path, logged_in=False, port=port)
    settings = type(settings)(**{**settings.__dict__, "client_secret": secret})
    manager = auth_manager(settings)
    token = manager.get_access_token(check_cache=False)
    token = token["access_token"] if isinstance(token, dict) else token  # the client-secret manager returns a dict
    assert token in fake.tokens
    threads[0].join(10)  # the browser notes the last page's status after the login has already gone on
    assert visited == [400, 400, 404, 200]
    assert fake.calls.count(("POST", "/api/token")) == 1  # the forged code was never exchanged
    assert "state=" in fake.authorize_urls[-1] and len(manager.state) >= 20


def test_login_times_out_after_only_forged_callbacks(fake, tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setattr("webbrowser.open", lambda url: threading.Thread(target=lambda: requests.get(
        f"http://127.0.0.1:{port}/callback?code=forged&state=wrong", timeout=10), daemon=True).start() or True)
    settings = settings_for(fake, tmp_path, logged_in=False, port=port)
    settings = type(settings)(**{**settings.__dict__, "login_timeout": 1.5})
    from emotion_dj.music.spotify import MusicError

    with pytest.raises(MusicError, match=r"timed out after 1.5 s \(1 forged or stale callback"):
        auth_manager(settings).get_access_token(check_cache=False)


def test_token_cache_mode_is_tightened_when_it_existed(fake, tmp_path):
    settings = settings_for(fake, tmp_path)
    os.chmod(settings.token_cache, 0o644)
    from emotion_dj.music.spotify import PrivateTokenCache

    PrivateTokenCache(cache_path=str(settings.token_cache)).save_token_to_cache(fake.issue_token())
    assert stat.S_IMODE(os.stat(settings.token_cache).st_mode) == 0o600


def test_playlist_command_line(fake, tmp_path):
    settings = settings_for(fake, tmp_path)
    env = {**os.environ, "SPOTIPY_CLIENT_ID": "test-client", "SPOTIFY_API_URL": settings.api_url,
           "SPOTIFY_ACCOUNTS_URL": fake.url, "SPOTIFY_TOKEN_CACHE": str(settings.token_cache)}
    ok = subprocess.run([sys.executable, "run_edge.py", "playlist", "--mood", "surprise", "--tracks", "12", "--no-open"],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "with 12 tracks" in ok.stdout and "secretvalue" not in ok.stdout + ok.stderr
    fake.script.append(["GET", "/v1/me", 401, {}, 9])
    bad = subprocess.run([sys.executable, "run_edge.py", "playlist", "--mood", "surprise", "--no-open"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "401" in bad.stderr
    unknown = subprocess.run([sys.executable, "run_edge.py", "playlist", "--mood", "joyful"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "unknown mood" in unknown.stderr
