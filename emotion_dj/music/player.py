"""Spotify Connect as a player: the device, play, queue, skip, and what is playing (the 2026 API's player calls).

Writes (play, queue, skip) need Premium and go out at most one every MIN_WRITE_INTERVAL seconds: the player is a
shared device in someone's living room, and the DJ never hammers it. A write that comes sooner waits, on the DJ's
own thread. Faults become the two exceptions the DJ acts on: no device to play on (it retries every minute), and a
free account (it turns itself off). Other errors (429s, 5xx, timeouts, an expired token) are the client's
(music/spotify.py): retried where that makes sense, else raised for the DJ to report in one line.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import spotipy

from emotion_dj.music.library import Track, parse_track

MIN_WRITE_INTERVAL = 3.0
PLAYER_SCOPES = "user-read-playback-state user-modify-playback-state user-read-currently-playing"


class NoDevice(Exception):
    """No Spotify Connect device to play on (none active, or the named one is not there)."""


class PremiumRequired(Exception):
    """The account is free: Spotify's player commands need Premium."""


@dataclass(frozen=True)
class NowPlaying:
    track: Track | None  # None for what is not a track (a podcast episode, an ad, a local file)
    progress_s: float
    playing: bool  # False: paused
    kind: str = "track"  # Spotify's currently_playing_type: track, episode, ad, unknown


def _player_error(error: spotipy.SpotifyException, device: str | None) -> Exception:
    reason = str(getattr(error, "reason", "") or "").upper()
    if error.http_status == 403 and ("PREMIUM" in reason or "premium" in str(error.msg).lower()):
        return PremiumRequired()
    if error.http_status == 404 and (reason == "NO_ACTIVE_DEVICE" or "device" in str(error.msg).lower()):
        return NoDevice(f"the Spotify device '{device}' is not available" if device else "no active Spotify device")
    return error


class SpotifyPlayer:
    def __init__(self, client: spotipy.Spotify, device_name: str | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.client, self.device_name = client, device_name
        self.clock, self.sleep = clock, sleep
        self.writes = 0
        self._last_write: float | None = None
        self._device_id: str | None = None

    def device_id(self) -> str:
        """The named device, else the active one, else the only one; NoDevice when there is none to use."""
        found = (self.client.devices() or {}).get("devices") or []
        devices = [d for d in found if isinstance(d, dict) and d.get("id")]
        if self.device_name:
            named = [d for d in devices if str(d.get("name", "")).lower() == self.device_name.lower()]
            if not named:
                raise NoDevice(f"no Spotify device named '{self.device_name}' (found: "
                               f"{', '.join(str(d.get('name')) for d in devices) or 'none'})")
            return named[0]["id"]
        active = [d for d in devices if d.get("is_active")] or (devices if len(devices) == 1 else [])
        if not active:
            raise NoDevice("no active Spotify device: start Spotify on the speaker (or name it with --dj-device)")
        return active[0]["id"]

    def _write(self, method, *args, **kwargs):
        if self._last_write is not None:
            wait = MIN_WRITE_INTERVAL - (self.clock() - self._last_write)
            if wait > 0:
                self.sleep(wait)
        if self._device_id is None:
            self._device_id = self.device_id()
        try:
            result = method(*args, device_id=self._device_id, **kwargs)
        except spotipy.SpotifyException as error:
            if error.http_status == 404:
                self._device_id = None  # the device vanished: look it up again next time
            raise _player_error(error, self.device_name) from None
        finally:
            self._last_write = self.clock()
            self.writes += 1
        return result

    def play(self, uris: list[str]) -> None:
        self._write(self.client.start_playback, uris=uris)

    def queue(self, uri: str) -> None:
        self._write(self.client.add_to_queue, uri)

    def skip(self) -> None:
        self._write(self.client.next_track)

    def now_playing(self) -> NowPlaying | None:
        try:
            state = self.client.current_user_playing_track()
        except spotipy.SpotifyException as error:
            raise _player_error(error, self.device_name) from None
        if not isinstance(state, dict):
            return None  # 204: nothing is playing
        kind = str(state.get("currently_playing_type") or "track")
        return NowPlaying(parse_track(state.get("item")) if kind == "track" else None,
                          float(state.get("progress_ms") or 0) / 1000, bool(state.get("is_playing")), kind)
