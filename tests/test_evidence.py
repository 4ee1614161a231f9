"""Mood evidence from real sources: the lexicon, each source and its faults, the pool and the choice, against an
honest catalog stand-in (tests/fake_catalog.py) and a Last.fm stand-in (tests/fake_lastfm.py)."""
import json
import random
import statistics
import time

import numpy as np
import pytest

from emotion_dj.music.evidence import Candidate, Evidence, estimate
from emotion_dj.music.evidence.room import RoomReactions
from emotion_dj.music.lastfm import LastfmSettings, Pace
from emotion_dj.music.lexicon import LEXICON, place
from emotion_dj.music.library import Artist, Track
from emotion_dj.music.mood import mood_by_name
from emotion_dj.music.plane import MoodPoint
from emotion_dj.music.service import PlaylistService
from emotion_dj.music.spotify import MusicError, SpotifySettings
from emotion_dj.music.store import DJOutcome, MusicStore, Play
from tests.fake_catalog import MOOD_WORDS, Catalog
from tests.fake_lastfm import KEY, FakeLastfm
from tests.fake_spotify import FakeSpotify
from tests.test_music import endpoints_used, settings_for

ALLOWED = {("GET", "/v1/me"), ("GET", "/v1/search"), ("GET", "/v1/me/top/artists"), ("GET", "/v1/me/top/tracks"),
           ("GET", "/v1/me/player/recently-played"), ("GET", "/v1/me/playlists"), ("POST", "/v1/me/playlists"),
           ("POST", "/v1/playlists/{id}/items"), ("GET", "/v1/playlists/{id}/items")}


@pytest.fixture(scope="module")
def catalog():
    return Catalog(seed=7)


@pytest.fixture
def stage(catalog):
    spotify, lastfm = FakeSpotify(), FakeLastfm(catalog)
    spotify.catalog = catalog
    spotify.start(), lastfm.start()
    yield spotify, lastfm
    spotify.stop(), lastfm.stop()


def service_for(spotify, lastfm, tmp_path, listener: str, with_key: bool, key: str = KEY, lines: list | None = None):
    spotify.listener = listener
    settings = settings_for(spotify, tmp_path)
    settings = SpotifySettings(**{**settings.__dict__, "lastfm": LastfmSettings(key, lastfm.url) if with_key else None})
    return PlaylistService(settings, open_links=False, store=MusicStore(tmp_path / "music.sqlite3"), rng=random.Random(7),
                           notify=(lines if lines is not None else []).append)


def make(spotify, service, mood: str) -> tuple[list[str], int, str]:
    before = len(spotify.calls)
    outcome = service.create(mood_by_name(mood))
    assert outcome.ok, outcome.message
    newest = max(spotify.playlists, key=lambda k: int(k[2:]))
    return spotify.playlists[newest]["items"], len(spotify.calls) - before, outcome.message


def valence(catalog, lists) -> float:
    return statistics.fmean(catalog.by_uri[u].valence for uris in lists for u in uris)


# -- the lexicon and the stand-in ------------------------------------------------------------------------------------
def test_the_lexicon_places_mood_words_and_names_and_nothing_else():
    assert len(LEXICON) >= 300 and all(-1 <= v <= 1 and -1 <= a <= 1 for v, a in LEXICON.values())
    assert place("Sad songs")[0].valence < -0.5 and place("rainy days")[1] == ["rainy days"]
    assert place("Workout 🔥")[0].arousal > 0.7 and place("Sunday morning")[0].arousal < -0.3
    assert place("Road trip") is None and place("2019") is None and place("Favourites") is None
    assert place("lonely-night vibes")[0].valence < 0


def test_the_stand_in_is_honest_about_the_real_world(catalog):
    """The facts the stand-in claims (its docstring), so a benchmark on it measures the app, not the stand-in."""
    titled = statistics.fmean(place(f"{t.name} {t.album}") is not None for t in catalog.tracks)
    assert titled <= 0.05  # about 3% of real titles and albums carry a mood word
    pairs = [(statistics.fmean(MOOD_WORDS[n][0] for n, _ in t.tags if n in MOOD_WORDS), t.valence)
             for t in catalog.tracks if any(n in MOOD_WORDS for n, _ in t.tags)]
    r = np.corrcoef(*zip(*pairs))[0, 1]
    assert 0.3 <= r <= 0.5, r  # Last.fm tags against audio valence
    assert statistics.fmean(bool(t.tags) for t in catalog.tracks) < 0.5  # most tracks have no tags
    theirs = [t for t in catalog.tracks if t.artist in set(catalog.listeners["narrow"]["artists"])]
    assert statistics.pstdev(t.valence for t in theirs) >= 0.4  # the right tracks exist within their taste


# -- sources and the choice --------------------------------------------------------------------------------------------
def test_evidence_combines_by_strength_and_a_skip_counts_against():
    strong = Evidence("playlist", MoodPoint(-0.6, -0.3), 1.0, "from your playlist 'Sad songs'")
    weak = Evidence("text", MoodPoint(0.6, 0.3), 0.1, "its title says happy")
    e = estimate([strong, weak])
    assert e.point.valence < -0.4 and e.confidence == pytest.approx(1.1 / 2.1) and e.reasons[0] == strong.why
    skipped = estimate([Evidence("room", MoodPoint(0.5, 0.5), -0.4, "skipped")])
    assert skipped.confidence == 0 and skipped.against == pytest.approx(0.4)


def test_the_room_places_what_it_reacted_to_and_its_artist(tmp_path):
    store = MusicStore(tmp_path / "m.sqlite3")
    happy_room = (0.8, 0.5)
    store.record([Play("spotify:track:a", "A", "The Artists", "why")])
    when = time.mktime((2026, 12, 3, 20, 0, 0, 0, 0, -1))
    store.record_dj(DJOutcome("spotify:track:a", when, "pleasant-excited", "room", "why", "match", (0, 0), happy_room,
                              False, True))
    artist = (Artist("x", "The Artists"),)
    same, other = Track("spotify:track:a", "A", artist), Track("spotify:track:b", "B", artist)
    found = RoomReactions(store).annotate([Candidate(same, True, "x"), Candidate(other, True, "x")], MoodPoint(0, 0), print)
    assert [e.why for e in found["spotify:track:a"]] == ["this room smiled through it on 3 December"]
    assert found["spotify:track:b"][0].why == "this room smiled through it with The Artists"
    assert found["spotify:track:b"][0].weight < found["spotify:track:a"][0].weight


def test_own_playlists_place_a_narrow_listeners_music_every_playlist_full_and_varied(stage, catalog, tmp_path):
    spotify, lastfm = stage
    service = service_for(spotify, lastfm, tmp_path, "narrow", with_key=False)
    made = {mood: [] for mood in ("happy", "sad")}
    requests, messages = [], []
    for mood in ("happy", "sad", "happy", "sad", "happy"):
        uris, spent, message = make(spotify, service, mood)
        made[mood].append(uris)
        requests.append(spent)
        messages.append(message)
    assert all(len(uris) == 20 for lists in made.values() for uris in lists)
    assert valence(catalog, made["happy"]) - valence(catalog, made["sad"]) >= 0.3
    every = [u for lists in made.values() for uris in lists for u in uris]
    assert statistics.fmean(catalog.in_taste(u, "narrow") for u in every) >= 0.4
    for lists in made.values():
        assert all(len(set(a) & set(b)) / len(b) <= 0.2 for a, b in zip(lists, lists[1:]))
    assert statistics.fmean(requests) <= 40 and max(requests[1:]) <= 40  # the first builds the day's pool
    assert endpoints_used(spotify) <= ALLOWED and not lastfm.calls  # no key: nothing goes to Last.fm
    assert "from your playlists" in messages[0]


def test_history_says_why_each_track_was_chosen(stage, tmp_path):
    spotify, lastfm = stage
    service = service_for(spotify, lastfm, tmp_path, "narrow", with_key=False)
    make(spotify, service, "sad")
    whys = [p.phrase for p in service.store.history(20)]
    assert any(why.startswith("from your playlist '") for why in whys)


def test_lastfm_tags_place_a_listener_without_mood_playlists_within_five_requests_a_second(stage, catalog, tmp_path):
    spotify, lastfm = stage
    service = service_for(spotify, lastfm, tmp_path, "plain", with_key=True)
    made = {"happy": [], "sad": []}
    for mood in ("happy", "sad", "happy", "sad"):
        made[mood].append(make(spotify, service, mood)[0])
    assert valence(catalog, made["happy"]) - valence(catalog, made["sad"]) >= 0.25
    assert lastfm.calls and lastfm.most_in_a_second() <= 5
    assert {m for _, m in lastfm.calls} <= {"track.gettoptags", "artist.gettoptags", "tag.gettoptracks"}
    tagged = [p.phrase for p in service.store.history(80) if "on Last.fm" in p.phrase]
    assert tagged  # the reason names Last.fm, as its terms ask
    asked = len(lastfm.calls)
    service.store.save_pool([], when=0)  # the day's pool again, tags from the store: a month
    make(spotify, service, "happy")
    assert len(lastfm.calls) - asked < asked  # cached tags are not asked for again


@pytest.mark.parametrize("fault, says", [
    ("bad key", "Last.fm refused the API key (error 10)"),
    ("down", "Last.fm answered error"),
    ("rate", "Last.fm is rate-limiting (error 29)"),
])
def test_a_lastfm_fault_is_one_line_and_the_playlist_goes_on(stage, tmp_path, monkeypatch, fault, says):
    spotify, lastfm = stage
    from emotion_dj.music import lastfm as lastfm_module

    monkeypatch.setattr(lastfm_module, "RATE_LIMIT_WAIT_S", 0.1)
    lines: list[str] = []
    if fault == "down":
        lastfm.down = True
    if fault == "rate":
        monkeypatch.setattr(lastfm, "answer", lambda query: (429, {"error": 29, "message": "Rate limit exceeded"}))
    service = service_for(spotify, lastfm, tmp_path, "narrow", with_key=True, key="wrong" if fault == "bad key" else KEY,
                          lines=lines)
    uris, _, _ = make(spotify, service, "happy")
    assert len(uris) == 20
    assert len([line for line in lines if says in line]) == 1, lines
    assert len(lastfm.calls) <= 3  # it stops asking once Last.fm said no


def test_a_slow_lastfm_is_one_line_and_costs_one_timeout(stage, tmp_path, monkeypatch):
    spotify, lastfm = stage
    from emotion_dj.music import lastfm as lastfm_module

    monkeypatch.setattr(lastfm_module, "TIMEOUT_S", 0.5)
    lastfm.delay = 2.0
    lines: list[str] = []
    service = service_for(spotify, lastfm, tmp_path, "narrow", with_key=True, lines=lines)
    started = time.monotonic()
    uris, _, _ = make(spotify, service, "sad")
    assert len(uris) == 20 and time.monotonic() - started < 15
    assert [line for line in lines if "Last.fm" in line] == ["Last.fm did not answer within 0.5 s: going on without its tags"]


def test_a_playlist_that_vanished_and_a_login_without_the_playlist_scopes_are_one_line_each(stage, tmp_path):
    spotify, lastfm = stage
    spotify.vanished = {"ownnarrow0", "ownnarrow3"}
    lines: list[str] = []
    service = service_for(spotify, lastfm, tmp_path, "narrow", with_key=False, lines=lines)
    uris, _, _ = make(spotify, service, "happy")
    assert len(uris) == 20 and len([line for line in lines if "could not be read (404" in line]) == 2


def test_an_empty_library_still_gets_full_playlists_that_vary(stage, tmp_path):
    spotify, lastfm = stage
    service = service_for(spotify, lastfm, tmp_path, "new", with_key=False)
    first, _, message = make(spotify, service, "happy")
    second, _, _ = make(spotify, service, "happy")
    assert len(first) == len(second) == 20 and not set(first) & set(second)
    assert "thin" in message  # it says that mood evidence was thin


@pytest.mark.parametrize("url, ok", [("https://ws.audioscrobbler.com/2.0/", True), ("http://127.0.0.1:9/2.0/", True),
                                     ("http://[::1]:9/2.0/", True), ("http://example.com/2.0/", False),
                                     ("ftp://127.0.0.1/", False), ("file:///etc/passwd", False)])
def test_the_lastfm_address_is_https_or_loopback_http(monkeypatch, url, ok):
    monkeypatch.setenv("LASTFM_API_KEY", "k")
    monkeypatch.setenv("LASTFM_API_URL", url)
    if ok:
        assert LastfmSettings.load().url == url
    else:
        with pytest.raises(MusicError, match="LASTFM_API_URL must be an https:// address"):
            LastfmSettings.load()
    monkeypatch.delenv("LASTFM_API_KEY")
    assert LastfmSettings.load() is None  # no key: Last.fm is off


def test_the_pace_allows_five_requests_in_any_second():
    now = [0.0]
    pace = Pace(5, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    sent = []
    for _ in range(12):
        pace.wait()
        sent.append(now[0])
        pace.done()
    assert all(sum(1 for u in sent if t <= u < t + 1.0) <= 5 for t in sent)
    assert sent[-1] >= 2.0


def test_forget_clears_the_pool_and_the_tag_cache(tmp_path):
    store = MusicStore(tmp_path / "m.sqlite3")
    store.save_pool([{"uri": "spotify:track:x"}])
    store.save_tags("artist\x1fsomeone", [("sad", 100)])
    store.forget()
    assert store.pool() is None and store.tags("artist\x1fsomeone", 30) is None


def test_tags_are_kept_for_a_month(tmp_path):
    store = MusicStore(tmp_path / "m.sqlite3")
    store.save_tags("artist\x1fsomeone", [("sad", 100)], when=time.time() - 29 * 86_400)
    assert store.tags("artist\x1fsomeone", 30) == [("sad", 100)]
    store.save_tags("artist\x1fsomeone", [("sad", 100)], when=time.time() - 31 * 86_400)
    assert store.tags("artist\x1fsomeone", 30) is None
    json.dumps(store.tags("artist\x1fnobody", 30))
