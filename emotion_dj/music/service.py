"""What pressing P (or `run_edge.py playlist`) does: a Spotify playlist, or the offline fallback.

The login (when needed) waits for the user up to its own timeout; after it, the whole playlist (searches,
creation, additions) has one deadline. The work runs on a helper thread that this call stops waiting for at
the deadline, so a server that drips one byte at a time cannot hold the caller.
"""
from __future__ import annotations

import logging
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass

from emotion_dj.music.fallback import web_search_url
from emotion_dj.music.mood import Mood
from emotion_dj.music.spotify import (
    MusicError,
    Playlist,
    SpotifySettings,
    clean,
    connect,
    create_playlist,
    explain,
    safe_link,
)

log = logging.getLogger(__name__)
DEADLINE_GRACE = 0.5  # seconds past the deadline before a stuck request is abandoned


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str  # one line for the HUD / CLI
    url: str | None = None


class PlaylistService:
    def __init__(self, settings: SpotifySettings | None = None, tracks: int = 20, public: bool = False,
                 open_links: bool = True, notify: Callable[[str], None] | None = None):
        self.settings = settings or SpotifySettings.load()
        self.tracks, self.public, self.open_links = tracks, public, open_links
        self.notify = notify  # a line for the user while waiting (e.g. "log in in the browser")
        self._client = None

    def _open(self, url: str) -> None:
        if not self.open_links:
            return
        if safe_link(url) is None:  # only Spotify's own https links and spotify: URIs, never file: or javascript:
            log.warning("not opening a link that is not Spotify's: %s", clean(url, 80))
            return
        try:
            webbrowser.open(url)
        except webbrowser.Error:
            log.info("no browser to open %s", url)

    def _make(self, mood: Mood) -> Playlist:
        if self._client is None:
            self._client = connect(self.settings, notify=self.notify)
        self._client.deadline = None
        self._client.auth_manager.get_access_token()  # log in first, on its own timeout, outside the deadline
        self._client.deadline = time.monotonic() + self.settings.deadline
        return create_playlist(self._client, mood, self.tracks, self.public)

    def _make_within_deadline(self, mood: Mood) -> Playlist:
        box: dict = {}

        def work():
            try:
                box["playlist"] = self._make(mood)
            except BaseException as error:  # noqa: BLE001 - handed to the caller below
                box["error"] = error

        helper = threading.Thread(target=work, name="spotify", daemon=True)
        helper.start()
        # The login is bounded by its own timeout; once it is done the client carries the deadline.
        while helper.is_alive():
            helper.join(0.1)
            deadline = getattr(self._client, "deadline", None)
            if helper.is_alive() and deadline is not None and time.monotonic() > deadline + DEADLINE_GRACE:
                self._client = None  # abandon a client whose request is stuck; the next press starts afresh
                raise MusicError(f"Spotify did not finish within {self.settings.deadline:g} s "
                                 "(slow or stalled connection): try again later")
        if "error" in box:
            raise box["error"]
        return box["playlist"]

    def create(self, mood: Mood) -> Outcome:
        """Never raises: every failure becomes an Outcome with a message (the app keeps running)."""
        if not self.settings.has_credentials:
            url = web_search_url(mood)
            self._open(url)
            opened = "opened" if self.open_links else "open"
            return Outcome(True, f"no Spotify credentials: {opened} web search for '{mood.queries[0]}' ({url})", url)
        try:
            playlist = self._make_within_deadline(mood)
        except Exception as error:  # noqa: BLE001 - explain() turns every failure into a safe line
            log.debug("playlist failed: %s", type(error).__name__)
            return Outcome(False, explain(error))
        self._open(playlist.url)
        count = f"{playlist.tracks} tracks" if playlist.tracks == playlist.asked else \
            f"only {playlist.tracks} of {playlist.asked} tracks (search found no more)"
        return Outcome(True, f"playlist '{playlist.name}' with {count}: {playlist.url}", playlist.url)
