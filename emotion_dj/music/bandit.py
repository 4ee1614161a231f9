"""What the DJ learns: which of its own phrase choices move the room, per region of the mood plane.

Arms are the app's own choices of which evidence leads a pick (the listener's playlists, Last.fm's tags, this
room's reactions, genres and titles), learned separately in each region of the plane (the four quadrants and the neutral middle). Thompson
sampling draws each arm's success rate from its Beta(successes + 1, failures + 1) and plays the best draw; a
further EXPLORE share of choices is uniform, so a region whose early luck was bad is still tried. The counts live
in the store, across sessions.

A success is a track that was not skipped (it ran past SKIP_S seconds) and, over its first minute, held the room's
mood (target `match`: valence no more than HOLD_MARGIN lower) or moved it toward the target. What is learned is the
app's own choices scored by the room's faces; no Spotify content trains anything (Spotify's developer terms
forbid that), and it stays on the device.
"""
from __future__ import annotations

import random

from emotion_dj.music.plane import MoodPoint

ARMS = ("playlist", "lastfm", "room", "text")  # which source of evidence leads the choice (music/evidence/)
EXPLORE = 0.1  # share of choices made uniformly at random
SKIP_S = 30.0  # a track that changed before this many seconds was skipped (Spotify's bandits counted 30 s streams)
HOLD_MARGIN = 0.1  # valence the room may lose over a track and still count as held
NEUTRAL_RADIUS = 0.25


def region(point: MoodPoint) -> str:
    if point.intensity < NEUTRAL_RADIUS:
        return "neutral"
    return ("pleasant" if point.valence >= 0 else "unpleasant") + ("-excited" if point.arousal >= 0 else "-calm")


def choose(counts: dict[str, tuple[int, int]], rng: random.Random, arms: tuple[str, ...] = ARMS) -> str:
    """An arm for one track. counts: arm -> (successes, failures) in this region."""
    if rng.random() < EXPLORE:
        return rng.choice(arms)
    return max(arms, key=lambda arm: rng.betavariate(counts.get(arm, (0, 0))[0] + 1, counts.get(arm, (0, 0))[1] + 1))


def success(before: MoodPoint, during: MoodPoint, target: MoodPoint | None, skipped: bool) -> bool:
    if skipped:
        return False
    if target is None:
        return during.valence >= before.valence - HOLD_MARGIN
    return during.distance(target) < before.distance(target) or during.distance(target) < NEUTRAL_RADIUS
