"""The DJ: following the room without flapping, the iso step, the bandit, and the DJ itself against the stand-in's
player, in simulated time (the stand-in's playback and the DJ share one clock)."""
import random
import sqlite3
import statistics

import pytest

from emotion_dj.music import bandit
from emotion_dj.music import store as store_module
from emotion_dj.music.dj import DJ, DJSettings
from emotion_dj.music.follow import CALM, FollowSettings, RoomFollower, intended
from emotion_dj.music.plane import class_point
from emotion_dj.music.player import MIN_WRITE_INTERVAL
from emotion_dj.music.store import DJOutcome, MusicStore
from tests.fake_catalog import Catalog
from tests.fake_spotify import FakeSpotify
from tests.test_music import settings_for

HAPPY, SAD, NEUTRAL = class_point("happy"), class_point("sad"), class_point("neutral")


def test_passing_flickers_change_nothing_and_a_sustained_change_is_followed_within_the_hold():
    follower, s = RoomFollower(), FollowSettings()
    for t in range(0, 600):  # ten minutes of a happy room, a 3-second sad face every 30 s
        assert follower.update(float(t), SAD if t % 30 < 3 and t > 0 else HAPPY) is None or t == 0
    assert follower.turns == 0
    turned = [t for t in range(600, 700) if (turn := follower.update(float(t), SAD)) and turn.kind == "change"]
    assert len(turned) == 1 and 600 + s.hold_s <= turned[0] <= 600 + s.hold_s + 15, turned
    assert follower.direction.distance(SAD) < 0.5


def test_a_big_change_says_so_and_an_empty_room_drifts_to_calm_later():
    follower = RoomFollower(FollowSettings(smoothing_s=1.0, hold_s=5.0, empty_calm_s=60.0))
    follower.update(0.0, HAPPY)
    turns = [follower.update(float(t), class_point("angry")) for t in range(1, 30)]
    assert [t.big for t in turns if t] == [True]  # happy to angry: 1.32 apart
    assert all(follower.update(30.0 + t, None) is None for t in range(59))  # the last mood is kept a while
    assert follower.update(90.0, None).kind == "empty" and follower.direction == CALM


def test_the_iso_step_meets_the_room_then_walks_to_the_target():
    first = intended(None, SAD, "calm", 0.3)
    assert first == SAD  # meet the room where it is
    walk = [first]
    for _ in range(8):
        walk.append(intended(walk[-1], SAD, "calm", 0.3))
    gaps = [p.distance(CALM) for p in walk]
    assert all(b < a for a, b in zip(gaps, gaps[1:]) if a > 0) and walk[-1] == CALM
    assert intended(HAPPY, SAD, "match", 0.3) == SAD  # match follows the room


def test_the_bandit_learns_which_source_of_evidence_the_room_likes(tmp_path):
    """A simulated room that answers to the listener's own playlists far more than to titles alone."""
    likes = {"playlist": 0.7, "lastfm": 0.4, "room": 0.4, "text": 0.2}
    store, rng, room_rng = MusicStore(tmp_path / "m.sqlite3"), random.Random(1), random.Random(2)
    rewards = []
    for _session in range(50):
        for _ in range(10):
            arm = bandit.choose(store.arm_counts("unpleasant-calm"), rng)
            won = room_rng.random() < likes[arm]
            store.record_dj(DJOutcome("spotify:track:x", 0, "unpleasant-calm", arm, "p", "calm", (0, 0), (0, 0), False, won))
            rewards.append(won)
    learned, random_choice = statistics.fmean(rewards[-100:]), statistics.fmean(likes.values())
    assert learned >= random_choice + 0.15, (learned, random_choice)
    (counts,) = [store.arm_counts("unpleasant-calm")]
    assert max(counts, key=lambda a: sum(counts[a])) == "playlist"


class Room:
    """A scripted room: its point at each simulated second."""

    def __init__(self, script):
        self.script, self.now = script, 0.0

    def __call__(self):
        return self.script(self.now)


class SimClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def stage(tmp_path):
    fake = FakeSpotify()
    fake.catalog = Catalog(seed=7)
    fake.track_seconds = 40.0
    clock = SimClock()
    fake.clock = clock
    fake.start()
    yield fake, clock, settings_for(fake, tmp_path)
    fake.stop()


def run_dj(dj, room, clock, seconds, step=1.0):
    while clock.now < seconds:
        room.now = clock.now
        dj.tick(clock.now)
        clock.now += step


def test_the_dj_starts_follows_a_sustained_change_and_keeps_the_player_calm(stage, tmp_path):
    fake, clock, spotify = stage
    room = Room(lambda t: HAPPY if t < 200 else SAD)
    lines = []
    dj = DJ(room, spotify, DJSettings(), MusicStore(tmp_path / "m.sqlite3"), random.Random(3), clock, clock.sleep, lines.append)
    run_dj(dj, room, clock, 480)
    assert fake.player_writes[0][1] == "/v1/me/player/play"  # it started playback by itself
    valence = {when: fake.catalog.by_uri[uri].valence for when, uri in fake.played}
    before = [v for t, v in valence.items() if t < 200]
    # follows within the hold time (20 s) plus the smoothing, plus one 40 s track already queued
    after = [v for t, v in valence.items() if t > 200 + 20 + 15 + 2 * fake.track_seconds]
    assert before and after and statistics.fmean(after) < statistics.fmean(before) - 0.4, (before, after)
    gaps = [b - a for (a, _), (b, _) in zip(fake.player_writes, fake.player_writes[1:])]
    assert min(gaps) >= MIN_WRITE_INTERVAL - 1e-6
    assert dj.follower.turns == 1 and any("turned sad" in line for line in lines)
    assert dj.state["now_playing"]["why"].startswith(fake.catalog.by_uri[fake.current].name)
    outcomes = dj.store.dj_summary()
    assert sum(s + f for _, _, s, f in outcomes) >= 5  # every finished track was scored


def test_a_free_account_is_one_line_and_the_dj_turns_off(stage, tmp_path):
    fake, clock, spotify = stage
    fake.premium = False
    room, lines = Room(lambda t: HAPPY), []
    dj = DJ(room, spotify, DJSettings(), MusicStore(tmp_path / "m.sqlite3"), random.Random(3), clock, clock.sleep, lines.append)
    run_dj(dj, room, clock, 30)
    assert lines == ["Spotify Premium is needed to play on a device: the DJ is off (P still makes playlists)"]
    assert dj.on is False and dj.state["on"] is False and not fake.played


def test_no_device_is_one_line_retried_every_minute_until_one_appears(stage, tmp_path):
    fake, clock, spotify = stage
    devices, fake.devices = fake.devices, []
    room, lines = Room(lambda t: HAPPY), []
    dj = DJ(room, spotify, DJSettings(), MusicStore(tmp_path / "m.sqlite3"), random.Random(3), clock, clock.sleep, lines.append)
    run_dj(dj, room, clock, 150)
    asked = [c for c in fake.calls if c[1] == "/v1/me/player/devices"]
    assert len(asked) == 3 and not fake.played  # at 1 s, 61 s and 121 s
    assert lines == ["no active Spotify device: start Spotify on the speaker (or name it with --dj-device); trying again in 60 s"]
    fake.devices = devices
    run_dj(dj, room, clock, 250)
    assert fake.played and dj.on


def test_a_store_locked_by_another_program_is_the_stores_line_and_the_dj_retries(stage, tmp_path, monkeypatch):
    fake, clock, spotify = stage
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)
    path = tmp_path / "m.sqlite3"
    MusicStore(path).record([])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    room, lines = Room(lambda t: HAPPY), []
    dj = DJ(room, spotify, DJSettings(), MusicStore(path), random.Random(3), clock, clock.sleep, lines.append)
    try:
        run_dj(dj, room, clock, 20)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert lines == [f"the music store {path} stayed locked by another program for 0.3 s (database is locked): close it, "
                     f"or set EMOTION_DJ_DATA to another folder; trying again in {DJSettings().pause_s:g} s"]
    assert dj.on and not fake.played
    run_dj(dj, room, clock, 20 + DJSettings().pause_s + 60)
    assert fake.played  # the lock lifted: the music starts


def test_a_login_that_does_not_happen_turns_the_dj_off_in_one_line_not_a_prompt_loop(stage, tmp_path):
    fake, clock, spotify = stage
    spotify.token_cache.unlink()  # nobody logged in, and no browser answers within the login's time
    spotify = type(spotify)(**{**spotify.__dict__, "login_timeout": 5.0})
    room, lines = Room(lambda t: HAPPY), []
    dj = DJ(room, spotify, DJSettings(), MusicStore(tmp_path / "m.sqlite3"), random.Random(3), clock, clock.sleep, lines.append)
    import webbrowser

    opened = []
    original, webbrowser.open = webbrowser.open, lambda url: opened.append(url) or True
    try:
        run_dj(dj, room, clock, 60)
    finally:
        webbrowser.open = original
    assert dj.on is False and len(opened) == 1 and len(lines) == 1 and lines[0].endswith("the DJ is off (switch it on again once logged in)")


def test_a_device_that_vanishes_is_found_again_and_the_music_goes_on(stage, tmp_path):
    fake, clock, spotify = stage
    room, lines = Room(lambda t: HAPPY), []
    dj = DJ(room, spotify, DJSettings(), MusicStore(tmp_path / "m.sqlite3"), random.Random(3), clock, clock.sleep, lines.append)
    run_dj(dj, room, clock, 60)
    assert fake.played
    # the speaker restarts: Spotify gives it a new device id, and the old one answers 404
    fake.devices = [{"id": "dev-after-restart", "name": "Living Room", "type": "Speaker", "is_active": True}]
    writes = len(fake.player_writes)
    run_dj(dj, room, clock, 300)
    assert len(fake.player_writes) > writes and dj.on  # it looked the device up again and kept queueing
    assert sum("not available" in line or "no active" in line for line in lines) <= 1


def happy_dj(spotify, clock, tmp_path):
    """A happy room, its lines, and a DJ on the stand-in's player in simulated time."""
    room, lines = Room(lambda t: HAPPY), []
    return room, lines, DJ(room, spotify, DJSettings(), MusicStore(tmp_path / "m.sqlite3"), random.Random(3), clock,
                           clock.sleep, lines.append)


def test_after_an_outage_longer_than_its_queue_the_dj_plays_again_within_a_minute_without_a_restart(stage, tmp_path):
    fake, clock, spotify = stage
    fake.track_seconds = 20.0  # the playing track and the one queued end well within the outage
    room, lines, dj = happy_dj(spotify, clock, tmp_path)
    run_dj(dj, room, clock, 60)
    assert fake.played
    fake.down_until = 120.0  # every request answers 503 for 60 s
    run_dj(dj, room, clock, 120)
    assert any("Spotify is having trouble (503)" in line for line in lines) and fake.current is None  # the queue ran dry
    run_dj(dj, room, clock, 210)
    again = [when for when, _ in fake.played if when >= 120]
    assert again and again[0] - 120 <= 60, (again, lines)
    assert dj.state["now_playing"], (lines, dj.state, fake.played, fake.player_writes)
    assert dj.state["now_playing"]["title"] == fake.catalog.by_uri[fake.current].name  # the page shows what plays
    assert "503" not in dj.state["status"]


def test_a_player_that_plays_nothing_after_play_is_tried_again_each_minute_not_hammered(stage, tmp_path):
    fake, clock, spotify = stage
    fake.silent = True
    room, lines, dj = happy_dj(spotify, clock, tmp_path)
    run_dj(dj, room, clock, 300)
    plays = [when for when, path in fake.player_writes if path == "/v1/me/player/play"]
    assert 3 <= len(plays) <= 7, plays  # it keeps trying, about once a minute
    assert any("Spotify plays nothing after the DJ's play command; trying again in 60 s" in line for line in lines)
    fake.silent = False
    run_dj(dj, room, clock, 400)
    assert dj.state["now_playing"] and fake.current


@pytest.mark.parametrize("choice", ["podcast", "their track"])
def test_the_dj_never_takes_over_what_the_listener_chose_and_starts_once_it_has_ended(stage, tmp_path, choice):
    fake, clock, spotify = stage
    room, lines, dj = happy_dj(spotify, clock, tmp_path)
    run_dj(dj, room, clock, 30)
    if choice == "podcast":
        fake.episode = True
    else:
        fake.current, fake.started, fake.queue = "spotify:track:theirs", clock.now, []
        fake.track_seconds = 1000.0  # a long one: it plays all through
    writes = len(fake.player_writes)
    run_dj(dj, room, clock, 200)
    assert len(fake.player_writes) == writes  # nothing played over it, nothing queued
    assert dj.state["now_playing"] is None and dj.state["waiting"] == "other"
    assert "which the DJ did not choose: it waits until that ends" in dj.state["status"]
    assert ("a podcast episode" if choice == "podcast" else "'theirs - someone'") in dj.state["status"]
    fake.episode, fake.current = False, None  # it ended: nothing plays
    run_dj(dj, room, clock, 220)
    assert len(fake.player_writes) > writes and dj.state["now_playing"] and dj.state["waiting"] is None


def test_a_pause_is_left_alone_and_the_dj_follows_again_when_the_listener_plays(stage, tmp_path):
    fake, clock, spotify = stage
    room, lines, dj = happy_dj(spotify, clock, tmp_path)
    run_dj(dj, room, clock, 30)
    fake.paused = True
    writes = len(fake.player_writes)
    run_dj(dj, room, clock, 400)
    assert len(fake.player_writes) == writes  # it never presses play for the listener
    assert dj.state["waiting"] == "paused" and dj.state["status"] == "paused in Spotify: the DJ waits until you play again"
    fake.paused, fake.started = False, clock.now
    run_dj(dj, room, clock, 700)
    assert len(fake.player_writes) > writes and dj.state["waiting"] is None


def test_the_dj_chooses_by_the_same_evidence_and_says_which(stage, tmp_path):
    fake, clock, spotify = stage  # the `narrow` listener: mood-named playlists of their own
    room, lines = Room(lambda t: SAD), []
    dj = DJ(room, spotify, DJSettings(), MusicStore(tmp_path / "m.sqlite3"), random.Random(3), clock, clock.sleep, lines.append)
    run_dj(dj, room, clock, 200)
    whys = [p.phrase for p in dj.store.history(50) if p.playlist == "dj"]
    assert whys and any(why.startswith("from your playlist '") for why in whys), whys
    assert "from your playlist '" in dj.state["now_playing"]["why"] or any("from your playlist" in line for line in lines)
    assert {arm for _, arm, _, _ in dj.store.dj_summary()} <= set(bandit.ARMS)
    played = [fake.catalog.by_uri[uri].valence for _, uri in fake.played]
    assert statistics.fmean(played) < 0.0  # a sad room gets music below neutral
