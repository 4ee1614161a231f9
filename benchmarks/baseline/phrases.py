"""The search-phrase recommender that P used before mood evidence (2026-12-01 to 2026-12-07), kept as the baseline
benchmarks/music.py measures the evidence against ("today's recommender"): a playlist for a point of the mood plane
and a listener, mood and taste together, varied, never repeating.

Each track is found by a search phrase of one of two kinds:
- **taste**: a mood word with one of the listener's genres or artists, through search's field filters
  (`genre:"soul" mellow`, `artist:"Nina Simone" blue`). The genres that fit the point best are drawn most often.
- **discovery**: mood words alone (`mellow rainy`), so the playlist is not only what they know. `discovery` is
  that share; a listener without a taste profile (new, or no consent) gets discovery only.

Mood words are drawn near the point (music/words.py); a taste phrase goes without one now and then (a genre's or
an artist's own tracks, ranked below by their words). Search offsets are drawn within the results search says a
phrase has, so one phrase does not always give the same first results. Each page's tracks are ranked by how near
the mood words of their title and album lie to the point (a track whose text says nothing gets the phrase's own
point); the best few are taken, none beyond MAX_FIT. Rules for variety: a track used in the last `repeat_days`
days is never used again (the store), one song appears once whatever its release, and one artist fills at most
`per_artist` tracks. Everything stops at the request budget.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from benchmarks.baseline.taste import Taste
from emotion_dj.music.library import BudgetSpent, SpotifyLibrary, Track
from emotion_dj.music.plane import MoodPoint
from emotion_dj.music.recommend import RecommendSettings
from emotion_dj.music.spotify import PAGE_SIZE
from emotion_dj.music.words import genre_point, text_point, word_point, words_near

DEEPEST = 300  # offsets are drawn from a phrase's first results (of those search says it has), never deeper
BARE_TASTE = 0.4  # how often a taste phrase is the genre or artist alone, without a mood word
TAKE_PER_PAGE = 3  # tracks taken from one page at most: more phrases, more variety
MISSES_BEFORE_DISCOVERY = 14  # taste phrases that find nothing new before the rest is filled by discovery
MAX_FIT = 0.75  # a track whose estimated point lies farther from the mood's is not taken
BARE_NEAR = 0.6  # a genre alone is searched only when it usually sits this near the point


@dataclass(frozen=True)
class Phrase:
    query: str
    kind: str  # "taste" or "discovery"
    point: MoodPoint  # where the phrase's mood word sits
    why: str  # "your genre: soul", "your artist: Nina Simone", "discovery"
    arm: str = "words"  # the family it belongs to (music/bandit.py): genre, artist or words


@dataclass(frozen=True)
class Pick:
    track: Track
    phrase: Phrase
    fit: float  # estimated distance of the track to the point (plane units)


def _draw(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    names, weights = zip(*weighted)
    return rng.choices(names, weights=weights)[0]


class PhraseMaker:
    """Draws phrases for one point and one listener."""

    def __init__(self, point: MoodPoint, taste: Taste | None, rng: random.Random):
        self.point, self.rng = point, rng
        self.words = words_near(point)
        self.genres: list[tuple[str, float]] = []
        self.artists: list[tuple[str, float]] = []
        if taste and not taste.empty:
            # a genre counts by how much they play it and how near it usually sits to the point
            self.genres = [(g, w * math.exp(-genre_point(g).distance(point) / 0.5)) for g, w in taste.genres.items()]
            self.artists = [(name, w) for name, w in taste.artists.values()]

    @property
    def has_taste(self) -> bool:
        return bool(self.genres or self.artists)

    def taste(self) -> Phrase:
        if self.genres and (not self.artists or self.rng.random() < 0.6):
            return self.genre()
        return self.artist()

    def genre(self) -> Phrase:
        if not self.genres:
            return self.artist() if self.artists else self.discovery()
        word, bare = _draw(self.rng, self.words), self.rng.random() < BARE_TASTE
        genre = _draw(self.rng, self.genres)
        bare = bare and genre_point(genre).distance(self.point) < BARE_NEAR
        where = genre_point(genre) if bare else word_point(word)
        return Phrase(f'genre:"{genre}"' + ("" if bare else f" {word}"), "taste", where, f"your genre: {genre}", "genre")

    def artist(self) -> Phrase:
        if not self.artists:
            return self.discovery()
        word, bare = _draw(self.rng, self.words), self.rng.random() < BARE_TASTE
        artist = _draw(self.rng, self.artists)
        return Phrase(f'artist:"{artist}"' + ("" if bare else f" {word}"), "taste", self.point if bare else word_point(word),
                      f"your artist: {artist}", "artist")

    def of(self, arm: str) -> Phrase:
        """A phrase of one family (the DJ's bandit arm): genre, artist or words."""
        return {"genre": self.genre, "artist": self.artist, "words": self.discovery}[arm]()

    def discovery(self) -> Phrase:
        first = _draw(self.rng, self.words)
        rest = [(w, x) for w, x in self.words if w != first]
        second = _draw(self.rng, rest) if rest else first
        query = first if second == first else f"{first} {second}"
        point = MoodPoint((word_point(first).valence + word_point(second).valence) / 2,
                          (word_point(first).arousal + word_point(second).arousal) / 2)
        return Phrase(query, "discovery", point, "discovery", "words")


def estimated_fit(track: Track, phrase: Phrase, point: MoodPoint) -> float:
    said = text_point(f"{track.name} {track.album}")
    return (said or phrase.point).distance(point)


def recommend(library: SpotifyLibrary, point: MoodPoint, taste: Taste | None, recent: set[str],
              settings: RecommendSettings, rng: random.Random | None = None, reserve: int = 0,
              arm: str | None = None) -> list[Pick]:
    """Up to `settings.tracks` picks, spending at most the library's budget less `reserve` requests. With `arm`,
    every phrase is of that family (the DJ's choice)."""
    rng = rng or random.Random()
    maker = PhraseMaker(point, taste, rng)
    want_taste = round(settings.tracks * (1 - settings.discovery)) if maker.has_taste else 0
    picks: list[Pick] = []
    seen_uris, seen_songs = set(recent), set()
    per_artist: dict[str, int] = {}
    tried: set[tuple[str, int]] = set()
    taste_misses = 0
    while len(picks) < settings.tracks and library.left() > reserve:
        taste_count = sum(p.phrase.kind == "taste" for p in picks)
        use_taste = taste_count < want_taste and taste_misses < MISSES_BEFORE_DISCOVERY
        phrase = maker.of(arm) if arm else maker.taste() if use_taste else maker.discovery()
        total = library.totals.get(phrase.query, 1)  # a phrase not yet searched starts at its first page
        offsets = [o for o in range(0, min(total, DEEPEST), PAGE_SIZE) if (phrase.query, o) not in tried]
        if not offsets:  # every first page of this phrase was read: draw another phrase
            taste_misses += use_taste
            if len(tried) > 4 * library.budget:
                break
            continue
        offset = rng.choice(offsets)
        tried.add((phrase.query, offset))
        try:
            found = library.search_tracks(phrase.query, offset)
        except BudgetSpent:
            break
        fresh = []
        for track in found:
            artist = track.artist.lower()
            if track.uri in seen_uris or track.key in seen_songs or per_artist.get(artist, 0) >= settings.per_artist:
                continue
            fresh.append(Pick(track, phrase, estimated_fit(track, phrase, point)))
        fresh.sort(key=lambda p: p.fit)
        room = settings.tracks - len(picks)
        if use_taste:
            room = min(room, want_taste - taste_count)
        taken = 0
        for pick in fresh:
            artist = pick.track.artist.lower()
            if taken >= min(TAKE_PER_PAGE, room) or pick.fit > MAX_FIT or per_artist.get(artist, 0) >= settings.per_artist:
                continue
            picks.append(pick)
            seen_uris.add(pick.track.uri)
            seen_songs.add(pick.track.key)
            per_artist[artist] = per_artist.get(artist, 0) + 1
            taken += 1
        if use_taste and taken == 0:
            taste_misses += 1
    return picks
