"""The small decisions a silent error would cost most in, at their edges (these killed the mutants mutmut found
surviving in docs/TESTING.md): what redaction hides, the DJ's settings from the environment, the bandit's regions,
successes and choices."""
import logging

import pytest

from emotion_dj.core.redact import RedactingFilter, redact
from emotion_dj.music import bandit
from emotion_dj.music.follow import FollowSettings
from emotion_dj.music.plane import MoodPoint
from emotion_dj.music.spotify import MusicError

SECRET = "hunter2"


# -- redaction ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, shown", [
    ("http://cam/v.mjpg#access_token=hunter2", "http://cam/v.mjpg#access_token=***"),  # a fragment, no '?'
    ("http://cam/v;session=hunter2", "http://cam/v;session=***"),
    ("http://@cam/v", "http://***@cam/v"),  # an empty userinfo says nothing, and hides nothing either
    ("rtsp://cam/live?Token=&fps=5", "rtsp://cam/live?Token=&fps=5"),  # an empty value: nothing to hide
    ("no url here = fine", "no url here = fine"),
])
def test_redaction_at_its_edges(text, shown):
    assert redact(text) == shown


def test_every_log_line_and_traceback_is_redacted(caplog):
    logger = logging.getLogger("test.redaction")
    handler = logging.StreamHandler()
    records: list[str] = []
    handler.emit = lambda record: records.append(handler.format(record))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("stream %s stalled", f"rtsp://admin:{SECRET}@cam/live")
        try:
            raise OSError(f"cannot open http://cam/v?password={SECRET}")
        except OSError:
            logger.exception("opening failed")
        logger.warning("nothing to hide here")
    finally:
        logger.removeHandler(handler)
    assert len(records) == 3 and not any(SECRET in line for line in records), records
    assert "rtsp://***@cam/live" in records[0] and "password=***" in records[1] and "Traceback" in records[1]
    assert records[2].endswith("nothing to hide here")


# -- the DJ's settings ----------------------------------------------------------------------------------------------
def test_the_dj_settings_come_from_their_variables_within_their_ranges():
    default = FollowSettings()
    assert FollowSettings.from_env({}) == default
    chosen = FollowSettings.from_env({"EMOTION_DJ_DJ_THRESHOLD": "0.05", "EMOTION_DJ_DJ_HOLD": "3600",
                                      "EMOTION_DJ_DJ_CALM_AFTER": "86400"})
    assert (chosen.threshold, chosen.hold_s, chosen.empty_calm_s) == (0.05, 3600.0, 86400.0)
    assert (chosen.smoothing_s, chosen.big) == (default.smoothing_s, default.big)
    assert FollowSettings.from_env({"EMOTION_DJ_DJ_THRESHOLD": "2", "EMOTION_DJ_DJ_HOLD": "0",
                                    "EMOTION_DJ_DJ_CALM_AFTER": "0"}) == FollowSettings(threshold=2.0, hold_s=0.0, empty_calm_s=0.0)
    for name, bad in (("EMOTION_DJ_DJ_THRESHOLD", "0.04"), ("EMOTION_DJ_DJ_THRESHOLD", "2.01"), ("EMOTION_DJ_DJ_HOLD", "-1"),
                      ("EMOTION_DJ_DJ_HOLD", "3600.5"), ("EMOTION_DJ_DJ_CALM_AFTER", "86401"), ("EMOTION_DJ_DJ_HOLD", "soon")):
        with pytest.raises(MusicError, match=name):
            FollowSettings.from_env({name: bad})


# -- the bandit -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("point, name", [
    (MoodPoint(0.0, 0.0), "neutral"),
    (MoodPoint(0.2499, 0.0), "neutral"),
    (MoodPoint(0.25, 0.0), "pleasant-excited"),  # on the radius: out of the middle; arousal 0 counts as excited
    (MoodPoint(0.0, -0.3), "pleasant-calm"),  # valence 0 counts as pleasant
    (MoodPoint(-0.3, 0.0), "unpleasant-excited"),
    (MoodPoint(-0.3, -0.3), "unpleasant-calm"),
    (MoodPoint(0.5, 0.5), "pleasant-excited"),
])
def test_the_regions_of_the_plane_at_their_borders(point, name):
    assert bandit.region(point) == name


def test_a_success_is_a_held_mood_or_a_move_toward_the_target_and_never_a_skip():
    before = MoodPoint(0.5, 0.0)
    held = MoodPoint(0.5 - bandit.HOLD_MARGIN, 0.0)
    assert bandit.success(before, held, None, skipped=False)  # exactly the margin lower still holds
    assert not bandit.success(before, MoodPoint(0.5 - bandit.HOLD_MARGIN - 0.01, 0.0), None, skipped=False)
    assert not bandit.success(before, MoodPoint(0.9, 0.0), None, skipped=True)
    calm = MoodPoint(0.35, -0.55)
    assert bandit.success(MoodPoint(0.0, 0.5), MoodPoint(0.1, 0.2), calm, skipped=False)  # closer
    assert not bandit.success(MoodPoint(0.1, 0.2), MoodPoint(0.0, 0.5), calm, skipped=False)  # farther
    assert not bandit.success(MoodPoint(0.1, 0.2), MoodPoint(0.1, 0.2), calm, skipped=False)  # no closer
    near = MoodPoint(calm.valence, calm.arousal + 0.2)
    assert bandit.success(near, near, calm, skipped=False)  # already within the neutral radius of it: held there
    assert not bandit.success(MoodPoint(0.0, 0.5), MoodPoint(0.1, 0.2), calm, skipped=True)


class Chance:
    """A stand-in random.Random: `random()` says whether to explore; a Beta draw is its mean (no luck)."""

    def __init__(self, roll: float):
        self.roll = roll

    def random(self) -> float:
        return self.roll

    def choice(self, options):
        return options[-1]

    def betavariate(self, a: float, b: float) -> float:
        return a / (a + b)


def test_the_bandit_plays_the_best_arm_and_explores_its_share():
    counts = {"playlist": (1, 9), "lastfm": (1, 9), "room": (8, 2)}  # 'text' never tried: Beta(1, 1), mean 0.5
    assert bandit.choose(counts, Chance(bandit.EXPLORE)) == "room"  # a roll at the share is not below it
    assert bandit.choose(counts, Chance(bandit.EXPLORE - 1e-9)) == "text"  # below it: uniform (here the last arm)
    poor = {"playlist": (1, 9), "lastfm": (2, 8), "room": (2, 8)}
    assert bandit.choose(poor, Chance(0.5)) == "text"  # untried beats the poor ones
    assert bandit.choose({}, Chance(0.5), arms=("a", "b")) == "a"  # no counts at all: every arm alike, the first


def test_an_untried_arm_is_even_odds_and_each_draw_is_successes_plus_one_over_trials_plus_two():
    # Beta(s + 1, f + 1) means: (10, 9) -> 11/21 = 0.524 beats an untried 1/2 (a shifted count would say 2/3 or 1/3)
    assert bandit.choose({"genre": (10, 9)}, Chance(0.5), arms=("genre", "words")) == "genre"
    # (4, 6) -> 5/12 = 0.417 loses to an untried 1/2
    assert bandit.choose({"genre": (4, 6)}, Chance(0.5), arms=("genre", "words")) == "words"


def test_a_room_exactly_the_neutral_radius_from_the_target_is_not_there_yet():
    target, at_the_edge = MoodPoint(0.5, 0.5), MoodPoint(0.5, 0.25)  # 0.25 away, exactly
    assert not bandit.success(at_the_edge, at_the_edge, target, skipped=False)


# -- following the room ----------------------------------------------------------------------------------------------
def instant(**overrides) -> FollowSettings:
    """A follower whose smoothing is instant (a new point is taken whole), for exact edges."""
    return FollowSettings(**{"smoothing_s": 1e-9, "threshold": 0.5, "hold_s": 0.0, "big": 0.5, "empty_calm_s": 10.0,
                             **overrides})


def test_the_first_point_starts_the_room_and_an_empty_room_turns_calm_only_after_someone_was_there():
    from emotion_dj.music.follow import CALM, RoomFollower

    nobody = RoomFollower(instant())
    assert [nobody.update(t, None) for t in (0.0, 50.0, 100.0)] == [None, None, None]  # never seen anyone: no mood to calm
    assert nobody.direction is None and nobody.turns == 0
    follower = RoomFollower(instant())
    start = follower.update(100.0, MoodPoint(0.8, 0.5))
    assert (start.kind, start.point, start.big) == ("start", MoodPoint(0.8, 0.5), False) and follower.turns == 0
    assert follower.update(101.0, None) is None and follower.update(110.9, None) is None  # empty for 9.9 s: keeps it
    calm = follower.update(111.0, None)  # empty since 101: 10 s
    assert (calm.kind, calm.point) == ("empty", CALM) and follower.direction == CALM and follower.turns == 1
    assert follower.update(200.0, None) is None  # already calm: no second turn
    back = follower.update(201.0, MoodPoint(-0.6, -0.3))  # someone sad comes in
    assert back.kind == "change" and follower.turns == 2


def test_the_smoothing_is_exponential_in_the_time_between_points():
    from emotion_dj.music.follow import RoomFollower

    follower = RoomFollower(FollowSettings(smoothing_s=20.0, threshold=2.0))  # a threshold it never reaches
    follower.update(100.0, MoodPoint(0.0, 0.0))
    follower.update(120.0, MoodPoint(1.0, 0.0))  # one time constant later: 1 - 1/e of the way
    assert follower.smoothed.valence == pytest.approx(1 - 0.36787944, abs=1e-6)
    follower.update(120.5, MoodPoint(1.0, 0.0))  # half a second: a small step, 1 - e^(-0.5/20) of what is left
    assert follower.smoothed.valence == pytest.approx(0.63212056 + 0.36787944 * (1 - 0.97530991), abs=1e-6)


def test_the_direction_turns_at_exactly_the_threshold_after_exactly_the_hold_and_big_is_inclusive():
    from emotion_dj.music.follow import RoomFollower

    follower = RoomFollower(instant(hold_s=2.0))
    follower.update(0.0, MoodPoint(0.0, 0.0))
    assert follower.update(10.0, MoodPoint(0.5, 0.0)) is None  # exactly the threshold away: away from now on
    assert follower.update(11.9, MoodPoint(0.5, 0.0)) is None  # held 1.9 s of 2
    turn = follower.update(12.0, MoodPoint(0.5, 0.0))  # held exactly 2 s
    assert turn is not None and turn.kind == "change" and turn.point == MoodPoint(0.5, 0.0)
    assert turn.big  # exactly `big` (0.5) away counts as big
    follower.update(20.0, MoodPoint(0.5, 0.49))  # less than the threshold away: stays
    assert follower.turns == 1 and follower.direction == MoodPoint(0.5, 0.0)


def test_every_turn_counts_whatever_its_kind():
    from emotion_dj.music.follow import RoomFollower

    follower = RoomFollower(instant())
    follower.update(0.0, MoodPoint(0.8, 0.5))
    follower.update(1.0, MoodPoint(-0.6, -0.3))  # a change: 1
    follower.update(2.0, None)
    follower.update(12.0, None)  # empty for 10 s: calm, 2
    assert follower.turns == 2
