"""Runs playlist requests on a worker thread so the frame loop never waits on the network.

Presses while a request is running are coalesced into it (counted, not queued): one press, one playlist. A press
within EMOTION_DJ_PLAYLIST_INTERVAL of the last playlist's start is dropped (music/pace.py), with one line.
`status` is the line the HUD shows: "creating...", then the result or the error.
"""
from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable

from emotion_dj.music.mood import MoodSnapshot
from emotion_dj.music.pace import PlaylistPace
from emotion_dj.music.service import Outcome

log = logging.getLogger(__name__)


class MusicWorker:
    def __init__(self, create: Callable, on_done: Callable[[MoodSnapshot, Outcome], None] | None = None,
                 pace: PlaylistPace | None = None):
        self._create = create  # (MoodSnapshot, say) -> Outcome; `say` puts a line in the HUD while the request waits
        self._on_done = on_done
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.status = ""
        self.coalesced = 0
        self.last: Outcome | None = None
        self.pace = pace or PlaylistPace()

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def request(self, snap: MoodSnapshot) -> bool:
        """Start a request for this snapshot; False (and counted) if one is already running, or one began less than
        the pace's interval ago (then dropped, with one line per interval)."""
        with self._lock:
            if self.busy:
                self.coalesced += 1
                return False
            wait = self.pace.wait_left()
            if wait > 0:
                line = self.pace.line(wait)
                self.status = line
                if self.pace.should_tell():
                    print(f"playlist: {line}", file=sys.stderr)
                return False
            self.status = f"mood {snap.describe()}: creating playlist..."
            self._thread = threading.Thread(target=self._run, args=(snap,), name="music", daemon=True)
            self._thread.start()
            return True

    def say(self, message: str) -> None:
        """A line for the HUD from the running request (e.g. 'log in to Spotify in the browser...')."""
        self.status = message

    def _run(self, snap: MoodSnapshot) -> None:
        try:
            outcome = self._create(snap, self.say)
        except Exception as error:  # noqa: BLE001 - a setting or bug must never kill the thread and freeze the HUD
            log.debug("playlist request failed", exc_info=True)
            message = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
            outcome = Outcome(False, f"{type(error).__name__}: {message}")
        if not outcome.ok:  # one line on stderr too: a headless box has no HUD to read
            print(f"playlist failed: {outcome.message}", file=sys.stderr)
        self.last = outcome
        self.status = f"mood {snap.describe()}: {outcome.message}" if outcome.ok else f"mood {snap.describe()}: failed - {outcome.message}"
        if self._on_done:
            self._on_done(snap, outcome)

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
