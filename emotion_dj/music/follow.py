"""Following the room without flapping, and where to take it (the DJ's direction; no I/O, time is passed in).

The room's point is smoothed with a time constant of tens of seconds. The DJ's *direction* changes only when the
smoothed point has moved past `threshold` from it and stayed past it for `hold_s`: a laugh at a joke or a sneeze
moves the smoothed point a little and for a moment, and changes nothing. A change past `big` (a party turning tense)
may skip the queued track. An empty room keeps the last direction, then after `empty_calm_s` drifts to calm.

Targets (the iso principle): `match` follows the room; `calm`, `energize` and `uplift` meet the room where it is,
then move each track's intended point `step` toward the target. The evidence for stepping is mixed (a randomised
trial of 5-song playlists found iso order no better than going straight to the target), so the step is a setting to
measure, not a given.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from emotion_dj.music.env import env_number
from emotion_dj.music.plane import MoodPoint, mean_point

TARGETS: dict[str, MoodPoint | None] = {
    "match": None,
    "calm": MoodPoint(0.35, -0.55),
    "energize": MoodPoint(0.50, 0.70),
    "uplift": MoodPoint(0.70, 0.30),
}
CALM = TARGETS["calm"]


@dataclass(frozen=True)
class FollowSettings:
    smoothing_s: float = 20.0  # time constant of the room's point
    threshold: float = 0.35  # how far (plane units) the smoothed point must move from the direction...
    hold_s: float = 20.0  # ...and for how long, before the direction changes
    big: float = 0.9  # a change at least this large skips the queued track
    empty_calm_s: float = 300.0  # an empty room keeps its mood this long, then the music drifts to calm

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> FollowSettings:
        """EMOTION_DJ_DJ_THRESHOLD, EMOTION_DJ_DJ_HOLD (seconds), EMOTION_DJ_DJ_CALM_AFTER (seconds)."""
        d = cls()
        return cls(d.smoothing_s, env_number(environ, "EMOTION_DJ_DJ_THRESHOLD", d.threshold, 0.05, 2.0),
                   env_number(environ, "EMOTION_DJ_DJ_HOLD", d.hold_s, 0.0, 3600.0), d.big,
                   env_number(environ, "EMOTION_DJ_DJ_CALM_AFTER", d.empty_calm_s, 0.0, 86400.0))


@dataclass(frozen=True)
class Turn:
    """A change of direction: why, to where, and whether it is big enough to skip the queued track."""
    kind: str  # "start", "change" or "empty"
    point: MoodPoint
    big: bool = False


class RoomFollower:
    def __init__(self, settings: FollowSettings | None = None):
        self.settings = settings or FollowSettings()
        self.smoothed: MoodPoint | None = None
        self.direction: MoodPoint | None = None
        self.turns = 0  # direction changes after the start
        self._last: float | None = None
        self._away_since: float | None = None
        self._away_points: list[MoodPoint] = []  # the room's points while the smoothed one has been away
        self._empty_since: float | None = None

    def update(self, now: float, point: MoodPoint | None) -> Turn | None:
        """Feed the room's point (None: nobody in view) at time `now`; a Turn when the direction changes."""
        s = self.settings
        if point is None:
            self._away_since, self._away_points = None, []
            self._empty_since = now if self._empty_since is None else self._empty_since
            if self.direction is not None and self.direction != CALM and now - self._empty_since >= s.empty_calm_s:
                self.direction = CALM
                self.turns += 1
                return Turn("empty", CALM)
            return None
        self._empty_since = None
        if self.smoothed is None:
            self.smoothed, self._last, self.direction = point, now, point
            return Turn("start", point)
        f = 1.0 - math.exp(-max(0.0, now - self._last) / s.smoothing_s)
        self._last = now
        self.smoothed = MoodPoint(self.smoothed.valence + f * (point.valence - self.smoothed.valence),
                                  self.smoothed.arousal + f * (point.arousal - self.smoothed.arousal))
        moved = self.smoothed.distance(self.direction)
        if moved < s.threshold:
            self._away_since, self._away_points = None, []
            return None
        self._away_since = now if self._away_since is None else self._away_since
        self._away_points.append(point)
        if now - self._away_since < s.hold_s:
            return None
        # the new direction is where the room has been while away (the smoothed point still lags behind it)
        new = mean_point(self._away_points)
        self._away_since, self._away_points = None, []
        big = new.distance(self.direction) >= s.big
        self.direction = new
        self.turns += 1
        return Turn("change", new, big=big)


def intended(previous: MoodPoint | None, room: MoodPoint, target: str, step: float) -> MoodPoint:
    """The point the next track is chosen for: the room's (match, or the first track), else one step on."""
    goal = TARGETS[target]
    if goal is None or previous is None:
        return room
    return previous.toward(goal, step)
