"""One playlist per interval, whoever presses: the worker behind P, the page and Home Assistant, and the fleet's."""
import threading

import pytest

from emotion_dj.music.mood import for_mood, mood_by_name
from emotion_dj.music.pace import PlaylistPace, interval_from_env
from emotion_dj.music.service import Outcome
from emotion_dj.music.spotify import MusicError
from emotion_dj.music.worker import MusicWorker


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_ten_presses_a_second_for_twenty_seconds_make_two_playlists_and_a_line_per_interval(capsys):
    clock, made = Clock(), []
    done = threading.Event()

    def create(snap, say):
        made.append(clock.now)
        done.set()
        return Outcome(True, "made")

    worker = MusicWorker(create, pace=PlaylistPace(10.0, clock))
    snap = for_mood(mood_by_name("happy"))
    for press in range(200):
        clock.now = 1000.0 + press / 10
        worker.request(snap)
        worker.join(5)
    assert made == [1000.0, 1010.0]
    lines = [line for line in capsys.readouterr().err.splitlines() if "was dropped" in line]
    assert len(lines) == 2 and lines[0] == ("playlist: one playlist per 10 s (EMOTION_DJ_PLAYLIST_INTERVAL): this press "
                                            "was dropped, the next one may come in 10 s")
    assert "was dropped" in worker.status and worker.pace.dropped == 198


def test_rooms_are_paced_each_on_its_own_and_zero_turns_the_limit_off():
    clock = Clock()
    pace = PlaylistPace(10.0, clock)
    assert pace.wait_left("bar") == 0 and pace.wait_left("kitchen") == 0 and pace.wait_left("bar") == 10
    clock.now += 10
    assert pace.wait_left("bar") == 0
    off = PlaylistPace(0.0, clock)
    assert all(off.wait_left() == 0 for _ in range(5))


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "-1", "3601", "\u00b2"])
def test_a_bad_interval_is_one_line_naming_the_setting(text):
    with pytest.raises(MusicError, match="EMOTION_DJ_PLAYLIST_INTERVAL must be a number from 0 to 3600"):
        interval_from_env({"EMOTION_DJ_PLAYLIST_INTERVAL": text})
    assert interval_from_env({}) == 10.0 and interval_from_env({"EMOTION_DJ_PLAYLIST_INTERVAL": "2.5"}) == 2.5


def test_the_fleets_playlist_for_a_room_pressed_again_at_once_is_dropped(monkeypatch):
    from emotion_dj.fleet import service

    monkeypatch.setattr(service, "_pace", PlaylistPace(10.0, Clock()))
    monkeypatch.delenv("SPOTIPY_CLIENT_ID", raising=False)
    monkeypatch.setenv("EMOTION_DJ_CONFIG", "/nonexistent/config.json")
    mood = {"emotion": "happy", "point": {"valence": 0.8, "arousal": 0.3}, "faces": 1}
    first = service.make_playlist(mood, 5, room="bar")
    again = service.make_playlist(mood, 5, room="bar")
    assert not first.get("dropped") and again["dropped"] and "room bar: one playlist per 10 s" in again["message"]
