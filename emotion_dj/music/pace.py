"""At most one playlist per interval, whoever asks (P, the page, Home Assistant, the fleet's endpoint): a button held
down or a script pressing ten times a second must not fill the listener's account with playlists.

EMOTION_DJ_PLAYLIST_INTERVAL (seconds, default 10; 0 turns the limit off) sets it. A press that comes too soon is
dropped, and the caller says so in one line per interval (not one per press).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping

from emotion_dj.music.env import env_number

DEFAULT_INTERVAL_S = 10.0


class PlaylistPace:
    def __init__(self, interval_s: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.interval_s = interval_from_env() if interval_s is None else interval_s
        self.clock = clock
        self.dropped = 0
        self._last: dict[str, float] = {}  # who (a room, or "" for the app) -> when its last playlist began
        self._told: dict[str, float] = {}  # who -> when its last "dropped" line was said
        self._lock = threading.Lock()

    def wait_left(self, who: str = "") -> float:
        """0 when a playlist may begin now (and it is counted as begun); else the seconds until one may."""
        with self._lock:
            now = self.clock()
            last = self._last.get(who)
            if last is not None and now - last < self.interval_s:
                self.dropped += 1
                return self.interval_s - (now - last)
            self._last[who] = now
            return 0.0

    def should_tell(self, who: str = "") -> bool:
        """True for the first dropped press of an interval: one line each, not one per press."""
        with self._lock:
            now = self.clock()
            if now - self._told.get(who, -1e18) < self.interval_s:
                return False
            self._told[who] = now
            return True

    def line(self, wait: float) -> str:
        return (f"one playlist per {self.interval_s:g} s (EMOTION_DJ_PLAYLIST_INTERVAL): this press was dropped, "
                f"the next one may come in {wait:.0f} s")


def interval_from_env(environ: Mapping[str, str] = os.environ) -> float:
    return env_number(environ, "EMOTION_DJ_PLAYLIST_INTERVAL", DEFAULT_INTERVAL_S, 0.0, 3600.0)
