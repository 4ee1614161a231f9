"""Last.fm's tags, opt-in: a thin client over `requests` for the three methods the music uses.

pylast, the well-kept client, always speaks https to Last.fm's own server, so it cannot be pointed at a local
stand-in; these three read-only methods are a few lines each:
- `track.getTopTags` (artist, track) and `artist.getTopTags` (artist): the crowd's tags, with counts 0-100;
- `tag.getTopTracks` (tag): the tracks most tagged with a mood, as candidates.

Settings: `LASTFM_API_KEY` (or `lastfm_api_key` in the config file; a free key from last.fm/api). Without a key
nothing is ever sent to Last.fm. `LASTFM_API_URL` (default `https://ws.audioscrobbler.com/2.0/`) must be https, or
plain http to a loopback address (a test's stand-in).

Manners: at most 5 requests in any second (the accepted ceiling); error 29 (rate limit) waits and tries once more;
error 10 (a bad key) and a server that is down or slow are LastfmError, one line, and the music goes on without
tags. Names of tracks and artists go to Last.fm with each request (docs/PRIVACY.md).
"""
from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import requests

DEFAULT_URL = "https://ws.audioscrobbler.com/2.0/"
PER_SECOND = 5
TIMEOUT_S = 5.0
RATE_LIMIT_WAIT_S = 2.0


class LastfmError(Exception):
    """Last.fm cannot be used now (a bad key, down, slow): one line; the music goes on without its tags."""


@dataclass(frozen=True)
class LastfmSettings:
    api_key: str
    url: str = DEFAULT_URL

    @classmethod
    def load(cls, config: dict | None = None) -> LastfmSettings | None:
        """The settings, or None when no key is set (then nothing is sent to Last.fm)."""
        from emotion_dj.music.spotify import MusicError, clean

        config = config or {}
        key = os.environ.get("LASTFM_API_KEY") or config.get("lastfm_api_key") or ""
        url = os.environ.get("LASTFM_API_URL") or config.get("lastfm_api_url") or DEFAULT_URL
        if not isinstance(key, str) or not isinstance(url, str):
            raise MusicError("lastfm_api_key and lastfm_api_url in the config file must be strings")
        if not key.strip():
            return None
        parsed = urlparse(url)
        loopback = False
        try:
            loopback = parsed.hostname is not None and (parsed.hostname == "localhost"
                                                        or ipaddress.ip_address(parsed.hostname).is_loopback)
        except ValueError:
            pass
        if not (parsed.scheme == "https" and parsed.hostname) and not (parsed.scheme == "http" and loopback):
            raise MusicError(f"LASTFM_API_URL must be an https:// address (or http:// to this machine), got '{clean(url, 80)}'")
        return cls(key.strip(), url if url.endswith("/") else url + "/")


class Pace:
    """At most `per_second` requests in any one second, on every thread together. A request's time is when its
    answer came (`done`), so that however long it was on its way, the next window starts after it arrived."""

    IN_FLIGHT = float("inf")

    def __init__(self, per_second: int = PER_SECOND, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.per_second, self.clock, self.sleep = per_second, clock, sleep
        self._times: list[float] = []
        self._lock = threading.Lock()

    def wait(self) -> None:
        while True:
            with self._lock:
                now = self.clock()
                self._times = [t for t in self._times if t == self.IN_FLIGHT or now - t < 1.0]
                if len(self._times) < self.per_second:
                    self._times.append(self.IN_FLIGHT)
                    return
                finished = [t for t in self._times if t != self.IN_FLIGHT]
                delay = 1.0 - (now - min(finished)) + 0.01 if finished else 0.05
            self.sleep(delay)

    def done(self) -> None:
        with self._lock:
            if self.IN_FLIGHT in self._times:
                self._times[self._times.index(self.IN_FLIGHT)] = self.clock()


PACE = Pace()  # one per process: every client, playlist after playlist and the DJ beside them, shares it


class Lastfm:
    def __init__(self, settings: LastfmSettings, pace: Pace | None = None):
        self.settings = settings
        self.pace = pace or PACE
        self.session = requests.Session()
        self.requests = 0

    def _get(self, method: str, **params) -> dict:
        for attempt in range(2):
            self.pace.wait()
            self.requests += 1
            try:
                try:
                    answer = self.session.get(self.settings.url, params={"method": method, "api_key": self.settings.api_key,
                                                                        "format": "json", **params}, timeout=TIMEOUT_S)
                finally:
                    self.pace.done()
                data = answer.json()
            except requests.Timeout:
                raise LastfmError(f"Last.fm did not answer within {TIMEOUT_S:g} s: going on without its tags") from None
            except (requests.RequestException, ValueError):
                raise LastfmError("cannot reach Last.fm (offline, or it is down): going on without its tags") from None
            if not isinstance(data, dict):
                raise LastfmError("Last.fm sent something that is not an answer: going on without its tags")
            error = data.get("error")
            if error == 29 and attempt == 0:
                time.sleep(RATE_LIMIT_WAIT_S)  # rate-limited: back off, then once more
                continue
            if error == 10 or error == 26:
                raise LastfmError("Last.fm refused the API key (error 10): check LASTFM_API_KEY; going on without tags")
            if error == 29:
                raise LastfmError("Last.fm is rate-limiting (error 29): going on without its tags for now")
            if error == 6:
                return {}  # not found: no tags
            if error is not None or answer.status_code >= 500:
                raise LastfmError(f"Last.fm answered error {error or answer.status_code}: going on without its tags")
            return data
        return {}

    @staticmethod
    def _tags(data: dict) -> list[tuple[str, int]]:
        tags = ((data.get("toptags") or {}).get("tag")) or []
        if isinstance(tags, dict):  # one tag comes as an object, not a list
            tags = [tags]
        found = []
        for tag in tags:
            if isinstance(tag, dict) and isinstance(tag.get("name"), str):
                try:
                    count = int(tag.get("count") or 0)
                except (TypeError, ValueError):
                    count = 0
                found.append((tag["name"].strip().lower()[:60], max(0, min(count, 100))))
        return found

    def track_tags(self, artist: str, title: str) -> list[tuple[str, int]]:
        return self._tags(self._get("track.getTopTags", artist=artist, track=title, autocorrect=1))

    def artist_tags(self, artist: str) -> list[tuple[str, int]]:
        return self._tags(self._get("artist.getTopTags", artist=artist, autocorrect=1))

    def tag_tracks(self, tag: str, limit: int = 30) -> list[tuple[str, str]]:
        """(artist, title) of the tracks most tagged with `tag`."""
        tracks = ((self._get("tag.getTopTracks", tag=tag, limit=limit).get("tracks") or {}).get("track")) or []
        found = []
        for track in tracks if isinstance(tracks, list) else []:
            artist = (track.get("artist") or {}).get("name") if isinstance(track, dict) else None
            if isinstance(artist, str) and isinstance(track.get("name"), str):
                found.append((artist[:120], track["name"][:120]))
        return found
