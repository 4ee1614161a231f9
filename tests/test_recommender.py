"""Playlists against the catalog stand-in: variety, taste, mood fit, the budget, the 2026 API, consent. (Each
source of mood evidence, and its faults, in tests/test_evidence.py.)"""
import json
import random
import statistics
import threading
import time

import numpy as np
import pytest
import requests

from emotion_dj.music.mood import MOODS, mood_by_name, snapshot
from emotion_dj.music.plane import MoodPoint, class_point, point_of
from emotion_dj.music.service import PlaylistService
from emotion_dj.music.spotify import BASE_SCOPES
from emotion_dj.music.store import MusicStore
from tests.fake_catalog import Catalog
from tests.fake_spotify import FakeSpotify
from tests.test_music import endpoints_used, settings_for

ALLOWED_2026 = {("GET", "/v1/me"), ("GET", "/v1/search"), ("GET", "/v1/me/top/artists"), ("GET", "/v1/me/top/tracks"),
                ("GET", "/v1/me/player/recently-played"), ("POST", "/v1/me/playlists"), ("POST", "/v1/playlists/{id}/items"),
                ("GET", "/v1/me/playlists"), ("GET", "/v1/playlists/{id}/items")}


@pytest.fixture(scope="module")
def catalog():
    return Catalog(seed=7)


@pytest.fixture
def shop(catalog):
    fake = FakeSpotify()
    fake.catalog = catalog
    fake.start()
    yield fake
    fake.stop()


def service_for(fake, tmp_path, listener="narrow", scope=None, seed=7, **kwargs) -> PlaylistService:
    fake.listener = listener
    settings = settings_for(fake, tmp_path)
    if scope:
        settings.token_cache.write_text(json.dumps(fake.issue_token(scope)))
    return PlaylistService(settings, open_links=False, store=MusicStore(tmp_path / "music.sqlite3"), rng=random.Random(seed),
                           **kwargs)


def make(fake, service, mood) -> tuple[list[str], int]:
    """One playlist: its tracks and the requests it took."""
    before = len(fake.calls)
    outcome = service.create(mood)
    assert outcome.ok, outcome.message
    newest = max(fake.playlists, key=lambda k: int(k[2:]))
    return fake.playlists[newest]["items"], len(fake.calls) - before


def hidden_valence(catalog, uris) -> float:
    return statistics.fmean(catalog.by_uri[u].valence for u in uris)


def test_a_narrow_listener_gets_varied_playlists_in_their_taste_that_fit_the_mood(shop, catalog, tmp_path):
    service = service_for(shop, tmp_path)  # `narrow`: mood-named playlists of their own, no Last.fm key
    runs = {mood: [make(shop, service, mood_by_name(mood)) for _ in range(3)] for mood in ("happy", "sad")}
    for mood, made in runs.items():
        for (before, _), (after, _) in zip(made, made[1:]):
            assert len(set(before) & set(after)) / len(after) <= 0.20, f"{mood}: consecutive playlists repeat"
        assert all(len(uris) == 20 for uris, _ in made)
    requests = [r for made in runs.values() for _, r in made]
    assert sum(requests) / len(requests) <= 40 and sorted(requests)[-2] <= 40, requests  # one built the day's pool
    every = [u for made in runs.values() for uris, _ in made for u in uris]
    taste = statistics.fmean(catalog.in_taste(u, "narrow") for u in every)
    assert taste >= 0.40, f"taste share {taste:.0%}"
    happy = hidden_valence(catalog, [u for uris, _ in runs["happy"] for u in uris])
    sad = hidden_valence(catalog, [u for uris, _ in runs["sad"] for u in uris])
    assert happy - sad >= 0.3, f"happy {happy:+.2f}, sad {sad:+.2f}"
    assert endpoints_used(shop) <= ALLOWED_2026


def test_half_sad_half_neutral_is_a_point_between(shop, catalog, tmp_path):
    classes = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    probs = np.zeros(len(classes))
    probs[classes.index("sad")] = probs[classes.index("neutral")] = 0.5
    mixed = point_of(classes, probs)
    sad, neutral = class_point("sad"), class_point("neutral")
    assert mixed == MoodPoint((sad.valence + neutral.valence) / 2, (sad.arousal + neutral.arousal) / 2)
    assert mixed.distance(sad) == pytest.approx(mixed.distance(neutral)) == pytest.approx(sad.distance(neutral) / 2)
    service = service_for(shop, tmp_path)
    snap = snapshot(classes, probs, faces=2)
    assert snap.point == mixed
    uris, _ = make(shop, service, snap)
    assert len(uris) == 20


def test_a_new_listener_and_one_without_consent_get_playlists_that_still_vary(shop, catalog, tmp_path):
    for listener, scope in (("new", None), ("narrow", BASE_SCOPES)):
        folder = tmp_path / listener
        folder.mkdir()
        service = service_for(shop, folder, listener=listener, scope=scope)
        if scope:
            service.store.set_meta("taste_scopes_asked", "1")  # asked once before: not again
        start = len(shop.calls)
        first, _ = make(shop, service, MOODS["happy"])
        second, _ = make(shop, service, MOODS["happy"])
        assert not set(first) & set(second) and len(first) == len(second) == 20
        if scope:  # no read of their world was even tried without the scopes
            assert not [c for c in shop.calls[start:] if c[0] == "GET" and c[1].startswith(("/v1/me/top", "/v1/me/playlists"))]


def test_the_listeners_world_is_read_at_most_once_a_day(shop, tmp_path):
    service = service_for(shop, tmp_path)
    make(shop, service, MOODS["happy"])
    make(shop, service, MOODS["sad"])
    assert shop.calls.count(("GET", "/v1/me/top/artists")) == 2  # short and medium term, once
    assert shop.calls.count(("GET", "/v1/me/playlists")) == 1
    candidates, fetched = service.store.pool()
    service.store.save_pool(candidates, when=fetched - 86_401)  # a day old
    make(shop, service, MOODS["happy"])
    assert shop.calls.count(("GET", "/v1/me/top/artists")) == 4 and shop.calls.count(("GET", "/v1/me/playlists")) == 2


def test_empty_artist_genres_leave_the_listeners_artists_in_the_pool(tmp_path):
    fake = FakeSpotify()
    fake.catalog = Catalog(seed=7, genres_empty=True)  # the 2026 API may send "genres": []
    fake.start()
    try:
        service = service_for(fake, tmp_path)
        uris, _ = make(fake, service, MOODS["neutral"])
        candidates, _ = service.store.pool()
        assert any(c["found"].endswith("'s tracks") for c in candidates)  # their artists' own tracks, by artist:
        assert not any(genres for c in candidates for _, _, genres in c["artists"])
        assert sum(fake.catalog.in_taste(u, "narrow") for u in uris) >= 4
    finally:
        fake.stop()


def test_no_removed_endpoint_is_called_and_the_stand_in_refuses_them(shop, tmp_path):
    service = service_for(shop, tmp_path)
    for mood in MOODS.values():
        make(shop, service, mood)
    assert endpoints_used(shop) <= ALLOWED_2026
    token = json.loads(service.settings.token_cache.read_text())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    artist = shop.catalog.artists[0].id
    for path in ("/v1/recommendations?seed_genres=jazz", f"/v1/artists?ids={artist}", "/v1/tracks?ids=x",
                 f"/v1/artists/{artist}/related-artists", f"/v1/artists/{artist}/top-tracks", "/v1/audio-features/x"):
        assert requests.get(f"{shop.url}{path}", headers=headers, timeout=5).status_code == 403, path
    single = requests.get(f"{shop.url}/v1/artists/{artist}", headers=headers, timeout=5).json()
    assert single["id"] == artist and "popularity" not in single and "followers" not in single


def test_a_quota_429_is_one_line_not_a_retry_loop(shop, tmp_path):
    shop.script.append(["GET", "/v1/search", 429, {"Retry-After": "1"}, 99, "QUOTA_EXCEEDED"])
    service = service_for(shop, tmp_path)
    started = time.monotonic()
    outcome = service.create(MOODS["happy"])
    assert not outcome.ok and "QUOTA_EXCEEDED" in outcome.message and "\n" not in outcome.message
    assert shop.calls.count(("GET", "/v1/search")) == 1 and time.monotonic() - started < 5


def browser_that_logs_in(monkeypatch, opened: list):
    """Plays the user's browser: follows the authorize URL to the fake, which redirects to the app's listener."""
    def open_url(url):
        opened.append(url)
        threading.Thread(target=lambda: requests.get(url, timeout=10), daemon=True).start()
        return True
    monkeypatch.setattr("webbrowser.open", open_url)


def test_a_token_without_the_taste_scopes_asks_once_then_the_app_goes_on_without(shop, tmp_path, monkeypatch):
    opened, lines = [], []
    browser_that_logs_in(monkeypatch, opened)
    shop.granted_scope = BASE_SCOPES  # the user logs in again, but this login still lacks the taste scopes
    service = service_for(shop, tmp_path, scope=BASE_SCOPES, notify=lines.append)
    assert service.create(MOODS["happy"]).ok
    assert len(opened) == 1 and "user-top-read" in opened[0]
    assert sum("log in once more" in line for line in lines) == 1
    asked = len(shop.calls)
    later = PlaylistService(service.settings, open_links=False, store=service.store, notify=lines.append)
    assert later.create(MOODS["sad"]).ok and later.create(MOODS["happy"]).ok
    assert len(opened) == 1 and sum("log in once more" in line for line in lines) == 1  # not asked again
    assert not [c for c in shop.calls[asked:] if c[1].startswith("/v1/me/top")]  # and no taste read tried


def test_an_expired_refresh_token_is_one_line_then_a_fresh_login(shop, tmp_path, monkeypatch):
    opened, lines = [], []
    browser_that_logs_in(monkeypatch, opened)
    service = service_for(shop, tmp_path, notify=lines.append)
    token = json.loads(service.settings.token_cache.read_text())
    token["expires_at"] = int(time.time()) - 60  # the access token has expired: spotipy refreshes it
    service.settings.token_cache.write_text(json.dumps(token))
    shop.refresh_fails = True  # Spotify: refresh tokens expire after six months (invalid_grant)
    outcome = service.create(MOODS["happy"])
    assert outcome.ok, outcome.message
    assert [line for line in lines if "expired" in line] == [
        "the Spotify login has expired (refresh tokens last six months): log in again in the browser"]
    assert len(opened) == 1 and list(tmp_path.glob("token.json.expired-*"))


def test_the_discovery_share_is_a_setting_and_a_bad_one_is_one_line(shop, tmp_path, monkeypatch):
    monkeypatch.setenv("EMOTION_DJ_DISCOVERY", "1")  # discovery first, even with the listener's world
    outcome = service_for(shop, tmp_path).create(MOODS["happy"])
    assert outcome.ok and "(0 from your world, 20 discovery" in outcome.message, outcome.message
    monkeypatch.setenv("EMOTION_DJ_DISCOVERY", "0")  # the listener's world only
    (tmp_path / "second").mkdir()
    outcome = service_for(shop, tmp_path / "second").create(MOODS["happy"])
    assert outcome.ok and "(20 from your world, 0 discovery" in outcome.message, outcome.message
    monkeypatch.setenv("EMOTION_DJ_DISCOVERY", "lots")
    from emotion_dj.music.spotify import MusicError

    with pytest.raises(MusicError, match="EMOTION_DJ_DISCOVERY must be a number from 0 to 1, got 'lots'"):
        service_for(shop, tmp_path)
