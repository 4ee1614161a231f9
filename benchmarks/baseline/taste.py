"""The listener's taste: their genres and artists, weighted, from what Spotify says they play.

Read with the listener's consent (scopes user-top-read and user-read-recently-played): top artists and top
tracks over the short term (about 4 weeks) and the medium term (about 6 months), and the last 50 plays. The
profile is kept in the local store and read again at most once a day (REFRESH_AFTER). Artist genres are
deprecated in the 2026 API and may come back empty: then the profile has artists and no genres, and the
recommender searches by `artist:` alone.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from emotion_dj.music.library import Artist, BudgetSpent, ScopeMissing, SpotifyLibrary
from emotion_dj.music.store import DAY, MusicStore

log = logging.getLogger(__name__)
REFRESH_AFTER = DAY
# How much each source says about taste: this month's favourites most, then the half year, then the last plays.
SOURCES = (("top_artists", "short_term", 1.0), ("top_artists", "medium_term", 0.7),
           ("top_tracks", "short_term", 0.6), ("top_tracks", "medium_term", 0.4), ("recent_tracks", None, 0.3))


@dataclass
class Taste:
    genres: dict[str, float] = field(default_factory=dict)  # genre -> weight, summing to 1
    artists: dict[str, tuple[str, float]] = field(default_factory=dict)  # artist id -> (name, weight), summing to 1

    @property
    def empty(self) -> bool:
        return not self.artists

    def artist_names(self) -> set[str]:
        return {name.lower() for name, _ in self.artists.values()}

    def to_dict(self) -> dict:
        return {"genres": self.genres, "artists": {k: [n, w] for k, (n, w) in self.artists.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> Taste:
        try:
            return cls({str(g): float(w) for g, w in (data.get("genres") or {}).items()},
                       {str(k): (str(v[0]), float(v[1])) for k, v in (data.get("artists") or {}).items()})
        except (TypeError, ValueError, IndexError, AttributeError):
            return cls()


def _normalised(weights: dict) -> dict:
    total = sum(weights.values())
    return {k: round(v / total, 4) for k, v in sorted(weights.items(), key=lambda kv: -kv[1])} if total else {}


def read_taste(library: SpotifyLibrary) -> Taste | None:
    """The profile from Spotify; None when the login lacks the scopes (the app goes on mood-only)."""
    artist_weight: dict[str, float] = {}
    names: dict[str, str] = {}
    genre_weight: dict[str, float] = {}
    try:
        for kind, term, weight in SOURCES:
            method = getattr(library, kind)
            items = method(term) if term else method()
            for rank, item in enumerate(items):
                share = weight / (1 + rank / 10)  # the top of each list counts most
                artists: tuple[Artist, ...] = (item,) if isinstance(item, Artist) else item.artists[:1]
                for artist in artists:
                    key = artist.id or artist.name.lower()
                    names[key] = artist.name
                    artist_weight[key] = artist_weight.get(key, 0.0) + share
                    for genre in artist.genres:
                        genre_weight[genre] = genre_weight.get(genre, 0.0) + share / len(artist.genres)
    except ScopeMissing:
        return None
    artists = _normalised(artist_weight)
    top = dict(list(artists.items())[:50])  # the long tail of one-off plays says little
    return Taste(_normalised(genre_weight), {k: (names[k], w) for k, w in top.items()})


def current_taste(library: SpotifyLibrary, store: MusicStore, now: float | None = None) -> Taste | None:
    """The stored profile if it is under a day old, else a fresh read (stored); None without the scopes."""
    now = time.time() if now is None else now
    kept = store.taste()
    if kept is not None and now - kept[1] < REFRESH_AFTER:
        taste = Taste.from_dict(kept[0])
        return None if taste.empty and kept[0].get("no_scope") else taste
    try:
        taste = read_taste(library)
    except BudgetSpent:
        return Taste.from_dict(kept[0]) if kept else None
    if taste is None:
        store.save_taste({"no_scope": True}, now)  # asked today: not again until tomorrow
        log.info("no taste profile: the Spotify login lacks user-top-read / user-read-recently-played")
        return None
    store.save_taste(taste.to_dict(), now)
    return taste
