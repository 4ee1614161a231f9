"""The rules of a playlist, from the environment: its size, the discovery share, the variety window, the artist cap.

Each is a setting (EMOTION_DJ_DISCOVERY, EMOTION_DJ_REPEAT_DAYS, EMOTION_DJ_PER_ARTIST); music/choose.py applies them.
The search-phrase recommender these settings first served is kept as the benchmark's baseline
(benchmarks/baseline/phrases.py).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from emotion_dj.music.env import env_number


@dataclass(frozen=True)
class RecommendSettings:
    tracks: int = 20
    discovery: float = 0.3  # share of tracks found by mood words alone (EMOTION_DJ_DISCOVERY)
    repeat_days: float = 14.0  # a track used within this many days is not used again (EMOTION_DJ_REPEAT_DAYS)
    per_artist: int = 2  # tracks of one artist in one playlist at most (EMOTION_DJ_PER_ARTIST)

    @classmethod
    def from_env(cls, tracks: int = 20, environ: Mapping[str, str] = os.environ) -> RecommendSettings:
        """The settings from the environment; a bad value is a MusicError naming it (one line)."""
        read = lambda *spec: env_number(environ, *spec)  # noqa: E731
        return cls(tracks, read("EMOTION_DJ_DISCOVERY", 0.3, 0.0, 1.0), read("EMOTION_DJ_REPEAT_DAYS", 14.0, 0.0, 3650.0),
                   read("EMOTION_DJ_PER_ARTIST", 2, 1, 100, int))
