"""Spotify as a music library: search, the listener's top artists and tracks, recent plays; nothing else.

The recommender never touches spotipy: it asks this class, which calls only what a development-mode app may in
2026 (GET /search with at most 10 a page, /me/top/{artists,tracks}, /me/player/recently-played, /me/playlists and
/playlists/{id}/items of the listener's own) and counts every request against the playlist's budget. Whatever
the server sends is read defensively: an item that is null or
lacks a field is skipped, never trusted.
"""
from __future__ import annotations

from dataclasses import dataclass

import spotipy

from emotion_dj.music.spotify import PAGE_SIZE, clean

MAX_OFFSET = 1000  # search's deepest offset


class BudgetSpent(Exception):
    """The playlist's request budget is used up: make do with what was found."""


class ScopeMissing(Exception):
    """The login lacks a scope this read needs (403): the taste is skipped, the playlist goes on."""


@dataclass(frozen=True)
class Artist:
    id: str
    name: str
    genres: tuple[str, ...] = ()


@dataclass(frozen=True)
class Track:
    uri: str
    name: str
    artists: tuple[Artist, ...]
    album: str = ""
    year: int | None = None

    @property
    def artist(self) -> str:
        return self.artists[0].name if self.artists else ""

    @property
    def key(self) -> tuple[str, str]:
        """One song whatever its release (a re-release has a new URI): its title and first artist."""
        return self.name.lower(), self.artist.lower()


def _artist(item) -> Artist | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    genres = item.get("genres") if isinstance(item.get("genres"), list) else []
    return Artist(str(item.get("id") or ""), clean(item["name"], 80), tuple(clean(g, 40).lower() for g in genres if isinstance(g, str)))


def parse_track(item) -> Track | None:
    if not isinstance(item, dict) or not isinstance(item.get("uri"), str) or not item["uri"].startswith("spotify:track:"):
        return None
    artists = tuple(a for a in (_artist(x) for x in item.get("artists") or []) if a)
    album = item.get("album") if isinstance(item.get("album"), dict) else {}
    date = str(album.get("release_date") or "")
    year = int(date[:4]) if date[:4].isdigit() else None
    return Track(item["uri"], clean(item.get("name") or "", 120), artists, clean(album.get("name") or "", 120), year)


class SpotifyLibrary:
    def __init__(self, client: spotipy.Spotify, budget: int):
        self.client = client
        self.budget = budget
        self.requests = 0
        self.totals: dict[str, int] = {}  # query -> how many results search says it has (for choosing offsets)

    def call(self, method, *args, **kwargs):
        """One request, counted against the budget (BudgetSpent once it is used up)."""
        if self.requests >= self.budget:
            raise BudgetSpent()
        self.requests += 1
        return method(*args, **kwargs)

    def left(self) -> int:
        return self.budget - self.requests

    def search_tracks(self, query: str, offset: int = 0) -> list[Track]:
        offset = max(0, min(offset, MAX_OFFSET - PAGE_SIZE))
        result = self.call(self.client.search, q=query, type="track", limit=PAGE_SIZE, offset=offset)
        page = (result or {}).get("tracks") or {}
        total = page.get("total")
        if isinstance(total, int) and total >= 0:
            self.totals[query] = total
        return [t for t in (parse_track(item) for item in page.get("items") or []) if t]

    def _personal(self, method, *args, **kwargs):
        try:
            return self.call(method, *args, **kwargs) or {}
        except spotipy.SpotifyException as error:
            if error.http_status in (401, 403):  # a token without user-top-read / user-read-recently-played
                raise ScopeMissing() from None
            raise

    def top_artists(self, term: str, limit: int = 20) -> list[Artist]:
        page = self._personal(self.client.current_user_top_artists, limit=limit, time_range=term)
        return [a for a in (_artist(x) for x in page.get("items") or []) if a]

    def top_tracks(self, term: str, limit: int = 20) -> list[Track]:
        page = self._personal(self.client.current_user_top_tracks, limit=limit, time_range=term)
        return [t for t in (parse_track(x) for x in page.get("items") or []) if t]

    def recent_tracks(self, limit: int = 50) -> list[Track]:
        page = self._personal(self.client.current_user_recently_played, limit=limit)
        return [t for t in (parse_track((x or {}).get("track") if isinstance(x, dict) else None) for x in page.get("items") or []) if t]

    def own_playlists(self, owner: str | None, limit: int = 50) -> list[tuple[str, str]]:
        """(id, name) of the playlists the listener owns or collaborates on (never another user's: those are not
        readable in 2026); one page of 50."""
        page = self._personal(self.client.current_user_playlists, limit=limit)
        found = []
        for item in page.get("items") or []:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("name"), str):
                continue
            mine = (item.get("owner") or {}).get("id") == owner or item.get("collaborative") is True
            if mine or owner is None:
                found.append((item["id"], clean(item["name"], 100)))
        return found

    def playlist_tracks(self, playlist_id: str, pages: int = 2) -> list[Track]:
        """The tracks of one playlist, 50 a page (the 2026 items endpoint; an item's track is `item`, or `track`
        in older answers)."""
        tracks: list[Track] = []
        for page_number in range(pages):
            page = self.call(self.client.playlist_items, playlist_id, limit=50, offset=page_number * 50) or {}
            items = page.get("items") or []
            for entry in items:
                if isinstance(entry, dict):
                    track = parse_track(entry.get("item") if entry.get("item") is not None else entry.get("track"))
                    if track:
                        tracks.append(track)
            if len(items) < 50:
                break
        return tracks
