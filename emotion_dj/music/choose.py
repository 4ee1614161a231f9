"""Choosing a playlist (or the DJ's next track) from the day's pool, by evidence.

Each candidate's evidence becomes an estimated point and a confidence (music/evidence). A candidate's expected
distance to the target is the estimate's distance, weighed by the confidence, and UNKNOWN_DISTANCE (how far a track
about which nothing is known lies from a target, on average) for the rest; a skip in this room adds SKIP_PENALTY.
A small random jitter keeps two playlists for the same mood from being the same list.

The rules, in their order (docs/MUSIC.md): no track used within the variety window and each song once (hard), the
tracks asked for (hard: when evidence is thin the best remaining fill the playlist, and it says so), at most
`per_artist` tracks of one artist (it gives way only when the pool has too few artists to fill the playlist), and
the taste share (1 - discovery) as a target; evidence fit is the best the rest allows.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from emotion_dj.music.evidence import Candidate, Estimate, Evidence, estimate
from emotion_dj.music.plane import MoodPoint

UNKNOWN_DISTANCE = 0.9
SKIP_PENALTY = 0.3
JITTER = 0.04
THIN = 0.3  # a pick below this confidence was a fill, not a choice by evidence
ARM_BONUS = 0.15  # how much nearer a track of the DJ's chosen source counts


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    estimate: Estimate
    score: float  # expected distance to the target (lower is better)

    @property
    def track(self):
        return self.candidate.track

    @property
    def why(self) -> str:
        """The truthful reason: the strongest evidence, or where it came from when there was none."""
        return self.estimate.reasons[0] if self.estimate.reasons else f"found in {self.candidate.found} (no mood evidence)"

    @property
    def source(self) -> str:
        """The source whose evidence weighed most (the DJ's arm), or 'none'."""
        weights: dict[str, float] = {}
        for e in self.candidate.evidence:
            weights[e.source] = weights.get(e.source, 0.0) + max(e.weight, 0.0)
        return max(weights, key=weights.get) if weights and max(weights.values()) > 0 else "none"


def estimates(candidates: list[Candidate], extra: dict[str, list[Evidence]]) -> dict[str, Estimate]:
    return {c.track.uri: estimate(c.evidence + extra.get(c.track.uri, [])) for c in candidates}


def expected_distance(e: Estimate, target: MoodPoint) -> float:
    return e.confidence * e.point.distance(target) + (1 - e.confidence) * UNKNOWN_DISTANCE + SKIP_PENALTY * e.against


def choose(candidates: list[Candidate], extra: dict[str, list[Evidence]], target: MoodPoint, count: int, recent: set[str],
           discovery: float, per_artist: int, rng: random.Random, arm: str | None = None) -> list[Choice]:
    """Up to `count` choices (fewer only when the pool has fewer usable tracks). With `arm`, tracks whose strongest
    evidence is from that source are preferred (the DJ's choice)."""
    for c in candidates:  # evidence found for this choice joins the candidate's own, for `source` and `why`
        c.evidence = c.evidence + [e for e in extra.get(c.track.uri, []) if e not in c.evidence]
    scored = []
    for c in candidates:
        if c.track.uri in recent:
            continue
        e = estimate(c.evidence)
        scored.append(Choice(c, e, expected_distance(e, target) + rng.gauss(0, JITTER)))
    if arm is not None:  # the arm's tracks are preferred, within ARM_BONUS of the best
        scored = [Choice(ch.candidate, ch.estimate, ch.score - (ARM_BONUS if ch.source == arm else 0.0)) for ch in scored]
    scored.sort(key=lambda ch: ch.score)
    has_taste = any(ch.candidate.taste for ch in scored)
    want_taste = round(count * (1 - discovery)) if has_taste else 0
    chosen: list[Choice] = []
    songs: set[tuple[str, str]] = set()
    artists: dict[str, int] = {}

    def take(pool: list[Choice], until: int, cap: int = per_artist) -> None:
        for ch in pool:
            if len(chosen) >= until:
                return
            artist = ch.track.artist.lower()
            if ch.track.key in songs or artists.get(artist, 0) >= cap:
                continue
            chosen.append(ch)
            songs.add(ch.track.key)
            artists[artist] = artists.get(artist, 0) + 1

    take([ch for ch in scored if ch.candidate.taste], want_taste)
    take([ch for ch in scored if not ch.candidate.taste], count)
    take(scored, count)  # one side ran short: the best of the rest
    take(scored, count, cap=count)  # still short: the artist cap gives way before the playlist's size does
    chosen.sort(key=lambda ch: ch.score)
    return chosen


def thin(choices: list[Choice]) -> int:
    """How many choices were fills rather than choices by evidence."""
    return sum(ch.estimate.confidence < THIN for ch in choices)
