"""What pressing P (or `run_edge.py playlist`) does: a Spotify playlist, or the offline fallback."""
from __future__ import annotations

import logging
import webbrowser
from dataclasses import dataclass

from runtime.music.fallback import web_search_url
from runtime.music.mood import Mood
from runtime.music.spotify import SpotifySettings, connect, create_playlist, explain

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str  # one line for the HUD / CLI
    url: str | None = None


class PlaylistService:
    def __init__(self, settings: SpotifySettings | None = None, tracks: int = 20, public: bool = False,
                 open_links: bool = True):
        self.settings = settings or SpotifySettings.load()
        self.tracks, self.public, self.open_links = tracks, public, open_links
        self._client = None

    def _open(self, url: str) -> None:
        if self.open_links:
            try:
                webbrowser.open(url)
            except webbrowser.Error:
                log.info("no browser to open %s", url)

    def create(self, mood: Mood) -> Outcome:
        """Never raises: every failure becomes an Outcome with a message (the app keeps running)."""
        if not self.settings.has_credentials:
            url = web_search_url(mood)
            self._open(url)
            opened = "opened" if self.open_links else "open"
            return Outcome(True, f"no Spotify credentials: {opened} web search for '{mood.queries[0]}' ({url})", url)
        try:
            if self._client is None:
                self._client = connect(self.settings)
            playlist = create_playlist(self._client, mood, self.tracks, self.public)
        except Exception as error:  # noqa: BLE001 - explain() turns every failure into a safe line
            log.debug("playlist failed: %s", type(error).__name__)
            return Outcome(False, explain(error))
        self._open(playlist.url)
        return Outcome(True, f"playlist '{playlist.name}' with {playlist.tracks} tracks: {playlist.url}", playlist.url)
