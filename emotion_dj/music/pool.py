"""The day's pool of candidates: the listener's world and some discovery, gathered once a day and kept in the store,
so that most playlists cost a few requests.

What joins it (each track once, its evidence merged):
- the listener's top tracks (short and medium term) and last 50 plays;
- each evidence source's candidates: their own playlists (music/evidence/playlists.py), Last.fm's mood charts when
  a key is set (music/evidence/lastfm.py);
- their top artists' tracks (`artist:"..."` search, ARTIST_PAGES pages each);
- discovery: one page for each of a few mood words spread over the plane.
Building it spends at most POOL_BUDGET Spotify requests (its own budget, beside the playlist's 40), once a day.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from emotion_dj.music.evidence import Candidate, EvidenceSource
from emotion_dj.music.library import BudgetSpent, ScopeMissing, SpotifyLibrary, Track

POOL_BUDGET = 120
REFRESH_AFTER_S = 86_400.0
MAX_ARTISTS = 20
ARTIST_PAGES = 2
DISCOVERY_WORDS = ("happy", "party", "summer", "chill", "calm", "sad", "lonely", "angry", "dark", "upbeat")


class Pool:
    def __init__(self):
        self.by_uri: dict[str, Candidate] = {}
        self.songs: set[tuple[str, str]] = set()

    def add(self, candidate: Candidate) -> None:
        kept = self.by_uri.get(candidate.track.uri)
        if kept is None:
            if candidate.track.key in self.songs:
                return  # the same song on another release: once is enough
            self.by_uri[candidate.track.uri] = candidate
            self.songs.add(candidate.track.key)
            return
        kept.taste = kept.taste or candidate.taste
        whys = {e.why for e in kept.evidence}
        kept.evidence += [e for e in candidate.evidence if e.why not in whys]

    def candidates(self) -> list[Candidate]:
        return list(self.by_uri.values())


def _with_genres(track: Track, genres: dict[str, tuple[str, ...]]) -> Track:
    """The track with its artists' genres where the listener's top artists told them (search results do not)."""
    if not any(a.id in genres for a in track.artists):
        return track
    artists = tuple(type(a)(a.id, a.name, genres.get(a.id, a.genres)) for a in track.artists)
    return Track(track.uri, track.name, artists, track.album, track.year)


def build_pool(library: SpotifyLibrary, sources: list[EvidenceSource], say: Callable[[str], None],
               use_taste: bool = True) -> list[Candidate]:
    pool = Pool()
    artists = []
    try:
        if use_taste:
            for term in ("short_term", "medium_term"):
                for track in library.top_tracks(term):
                    pool.add(Candidate(track, True, "your top tracks"))
                for artist in library.top_artists(term):
                    if artist.id not in {a.id for a in artists}:
                        artists.append(artist)
            for track in library.recent_tracks():
                pool.add(Candidate(track, True, "your recent plays"))
    except ScopeMissing:
        say("your top artists and plays were not read: the login lacks user-top-read (playlists are mood only)")
    except BudgetSpent:
        pass
    for source in sources:
        for candidate in source.gather(library, say):
            pool.add(candidate)
    genres = {a.id: a.genres for a in artists if a.genres}
    try:
        for artist in artists[:MAX_ARTISTS]:
            for page in range(ARTIST_PAGES):
                found = library.search_tracks(f'artist:"{artist.name}"', page * 10)
                for track in found:
                    if track.artist.lower() == artist.name.lower():
                        pool.add(Candidate(track, True, f"{artist.name}'s tracks"))
                if len(found) < 10:
                    break
        for word in DISCOVERY_WORDS:
            for track in library.search_tracks(word):
                pool.add(Candidate(track, False, f"search '{word}'"))
    except BudgetSpent:
        pass
    candidates = pool.candidates()
    for c in candidates:
        c.track = _with_genres(c.track, genres)
    return candidates


def current_pool(library: SpotifyLibrary, store, sources: list[EvidenceSource], say: Callable[[str], None],
                 use_taste: bool = True, now: float | None = None) -> tuple[list[Candidate], bool]:
    """The stored pool if it is under a day old, else a fresh one (stored); and whether it was built now."""
    now = time.time() if now is None else now
    kept = store.pool()
    if kept is not None and now - kept[1] < REFRESH_AFTER_S and kept[0]:
        return [Candidate.from_dict(d) for d in kept[0]], False
    candidates = build_pool(library, sources, say, use_taste)
    store.save_pool([c.to_dict() for c in candidates], now)
    return candidates, True
