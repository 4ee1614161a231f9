"""What pressing P (or `run_edge.py playlist`) does: a Spotify playlist, or the offline fallback.

The login (when needed) waits for the user up to its own timeout; after it, the whole playlist (searches,
creation, additions) has one deadline. The work runs on a helper thread that this call stops waiting for at
the deadline, so a server that drips one byte at a time cannot hold the caller.

The taste scopes are asked for once: a token cached before they existed leads to one more login, with a line
saying why; if that login does not happen, later playlists use the old token and stay mood-only. An expired
refresh token (Spotify's last six months) is one line, then a fresh login.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass

from emotion_dj.music.fallback import web_search_url
from emotion_dj.music.lastfm import Lastfm
from emotion_dj.music.mood import Mood, MoodSnapshot, for_mood
from emotion_dj.music.playlists import Playlist, make_playlist
from emotion_dj.music.pool import REFRESH_AFTER_S
from emotion_dj.music.recommend import RecommendSettings
from emotion_dj.music.spotify import (
    BASE_SCOPES,
    SCOPES,
    TASTE_SCOPES,
    MusicError,
    SpotifySettings,
    cached_scopes,
    clean,
    connect,
    expired_login,
    explain,
    safe_link,
)
from emotion_dj.music.store import MusicStore, StoreError

log = logging.getLogger(__name__)
DEADLINE_GRACE = 0.5  # seconds past the deadline before a stuck request is abandoned
GATHER_FACTOR = 2.0  # the first playlist of a day builds the day's pool: it may take twice SPOTIFY_DEADLINE


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str  # one line for the HUD / CLI
    url: str | None = None


class PlaylistService:
    def __init__(self, settings: SpotifySettings | None = None, tracks: int = 20, public: bool = False,
                 open_links: bool = True, notify: Callable[[str], None] | None = None, store: MusicStore | None = None,
                 recommend: RecommendSettings | None = None, rng: random.Random | None = None):
        self.settings = settings or SpotifySettings.load()
        self.tracks, self.public, self.open_links = tracks, public, open_links
        self.notify = notify  # a line for the user while waiting (e.g. "log in in the browser")
        self.store = store or MusicStore()
        self.recommend = RecommendSettings(**{**(recommend or RecommendSettings.from_env()).__dict__, "tracks": tracks})
        self._client = None
        self._deadline_s = self.settings.deadline  # this playlist's: twice as long when it gathers the day's pool
        self._scopes = SCOPES
        self.rng = rng or random.Random()  # the phrases' and offsets' draws (seeded by the benchmark)

    def _say(self, line: str) -> None:
        (self.notify or (lambda text: log.warning("%s", text)))(line)

    def _choose_scopes(self) -> str:
        """All scopes, unless the cached token lacks the taste ones and they were already asked for once."""
        cached = cached_scopes(self.settings)
        if cached is None or set(TASTE_SCOPES.split()) <= cached:
            return SCOPES
        try:
            if self.store.meta("taste_scopes_asked"):
                return BASE_SCOPES
            self.store.set_meta("taste_scopes_asked", str(int(time.time())))
        except StoreError:
            return BASE_SCOPES  # without the store's memory, never ask at every press; the playlist says why
        self._say("Spotify: log in once more so Emotion DJ may read your top artists and recent plays (your taste)")
        return SCOPES

    def _login(self) -> None:
        """Log in first, on its own timeout, outside the deadline; an expired refresh token means a fresh login."""
        try:
            self._client.auth_manager.get_access_token()
        except Exception as error:  # noqa: BLE001 - only the expired login is handled here
            if not expired_login(error):
                raise
            self._say(explain(error))
            aside = self.settings.token_cache.with_name(f"{self.settings.token_cache.name}.expired-{int(time.time())}")
            self.settings.token_cache.replace(aside)
            self._client.auth_manager.get_access_token()
        granted = cached_scopes(self.settings) or set()
        if self._scopes == SCOPES and not set(TASTE_SCOPES.split()) <= granted:
            # the login granted less than asked: spotipy would ask again at every request, so ask for what was given
            self._scopes = BASE_SCOPES
            self._client = connect(self.settings, notify=self.notify, scopes=BASE_SCOPES)

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

    def _make(self, snap: MoodSnapshot) -> Playlist:
        if self._client is None:
            self._scopes = self._choose_scopes()
            self._client = connect(self.settings, notify=self.notify, scopes=self._scopes)
        self._client.deadline = None
        self._login()
        deadline = self.settings.deadline
        if self._gathering():
            deadline *= GATHER_FACTOR
            self._say(f"gathering your music for today (once a day, up to {deadline:g} s)")
        self._deadline_s = deadline
        self._client.deadline = time.monotonic() + deadline
        lastfm = Lastfm(self.settings.lastfm) if self.settings.lastfm is not None else None
        return make_playlist(self._client, self.store, snap, self.recommend, self.public, use_taste=self._scopes == SCOPES,
                             rng=self.rng, lastfm=lastfm, say=self._say)

    def _gathering(self) -> bool:
        """Whether this playlist builds the day's pool first (none kept, or older than a day)."""
        try:
            kept = self.store.pool()
        except StoreError:
            return True
        return kept is None or time.time() - kept[1] >= REFRESH_AFTER_S

    def _make_within_deadline(self, snap: MoodSnapshot) -> Playlist:
        box: dict = {}

        def work():
            try:
                box["playlist"] = self._make(snap)
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
                raise MusicError(f"Spotify did not finish within {self._deadline_s:g} s "
                                 "(slow or stalled connection): try again later")
        if "error" in box:
            raise box["error"]
        return box["playlist"]

    def create(self, mood: Mood | MoodSnapshot) -> Outcome:
        """A playlist for a class (its point) or a snapshot (its point). Never raises: every failure becomes an
        Outcome with a message (the app keeps running)."""
        snap = mood if isinstance(mood, MoodSnapshot) else for_mood(mood)
        if not self.settings.has_credentials:
            url = web_search_url(snap.mood)
            self._open(url)
            opened = "opened" if self.open_links else "open"
            return Outcome(True, f"no Spotify credentials: {opened} web search for '{snap.mood.web_search}' ({url})", url)
        try:
            playlist = self._make_within_deadline(snap)
        except Exception as error:  # noqa: BLE001 - explain() turns every failure into a safe line
            log.debug("playlist failed: %s", type(error).__name__)
            return Outcome(False, explain(error))
        self._open(playlist.url)
        count = f"{playlist.tracks} tracks" if playlist.tracks == playlist.asked else \
            f"only {playlist.tracks} of {playlist.asked} tracks (search found no more)"
        mix = playlist.mix or "mood only"
        if playlist.thin:
            mix += f"; mood evidence was thin for {playlist.thin} of them, the best remaining filled in"
        unrecorded = f"; not recorded in the history: {playlist.unrecorded}" if playlist.unrecorded else ""
        return Outcome(True, f"playlist '{playlist.name}' with {count} ({mix}): {playlist.url}{unrecorded}", playlist.url)
