"""A music catalog for the fake Spotify: thousands of tracks by hundreds of artists in 24 genres, each track with a
hidden valence-arousal point, and listeners with top artists. Made from a seed, the same every time.

What the app sees is what the real API shows: titles, album names, artists (with genres, or none: Spotify's 2026
API marks them deprecated), release years. The hidden point is only for measuring (benchmarks/music.py, tests).
Titles carry mood words the way real titles do, loosely: most of a track's words come from near its point by
this catalog's own lexicon (placed independently of the app's music/words.py, with words the app does not know),
some from anywhere, and some titles have none at all.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

# genre -> where its tracks centre (valence, arousal); a track scatters around its genre and artist
GENRES = {
    "pop": (0.45, 0.35), "dance": (0.6, 0.7), "edm": (0.4, 0.8), "house": (0.5, 0.6), "techno": (0.05, 0.7),
    "hip hop": (0.05, 0.55), "rap": (-0.05, 0.6), "r&b": (0.25, 0.0), "soul": (0.2, -0.1), "funk": (0.55, 0.5),
    "jazz": (0.2, -0.3), "blues": (-0.4, -0.25), "rock": (0.0, 0.55), "indie": (0.1, 0.05), "metal": (-0.5, 0.8),
    "punk": (-0.25, 0.8), "folk": (0.05, -0.45), "acoustic": (0.15, -0.5), "country": (0.2, 0.1),
    "classical": (0.1, -0.55), "ambient": (0.05, -0.7), "lo-fi": (0.15, -0.55), "reggae": (0.45, -0.05),
    "latin": (0.55, 0.55),
}
# this catalog's words and where they sit (valence, arousal)
LEXICON = {
    "happy": (0.75, 0.45), "joyful": (0.8, 0.55), "cheerful": (0.7, 0.4), "blissful": (0.75, 0.1), "upbeat": (0.65, 0.65),
    "party": (0.6, 0.8), "dance": (0.55, 0.75), "euphoric": (0.75, 0.85), "sunny": (0.7, 0.3), "bright": (0.55, 0.45),
    "feel good": (0.75, 0.5), "energetic": (0.35, 0.85), "electric": (0.3, 0.75), "wild": (0.25, 0.8), "fierce": (-0.1, 0.85),
    "groove": (0.45, 0.35), "confident": (0.4, 0.4), "chill": (0.35, -0.5), "mellow": (0.25, -0.55), "serene": (0.5, -0.75),
    "peaceful": (0.45, -0.7), "calm": (0.3, -0.7), "relaxing": (0.4, -0.6), "warm": (0.5, -0.25), "tender": (0.45, -0.35),
    "dreamy": (0.3, -0.45), "sweet": (0.55, -0.05), "smooth": (0.3, -0.2), "easy": (0.25, -0.35), "soft": (0.2, -0.5),
    "focus": (0.05, -0.25), "ambient": (0.0, -0.6), "steady": (0.0, 0.0), "sad": (-0.7, -0.35), "gloomy": (-0.55, -0.4),
    "somber": (-0.5, -0.5), "melancholy": (-0.45, -0.5), "lonely": (-0.55, -0.45), "rainy": (-0.25, -0.55), "blue": (-0.4, -0.35),
    "longing": (-0.35, -0.25), "heartbreak": (-0.65, -0.1), "tears": (-0.65, -0.05), "angry": (-0.55, 0.7), "rage": (-0.65, 0.85),
    "furious": (-0.7, 0.8), "aggressive": (-0.4, 0.8), "intense": (-0.15, 0.75), "dark": (-0.5, 0.25), "tense": (-0.35, 0.55),
    "anxious": (-0.5, 0.55), "haunting": (-0.35, 0.05), "bitter": (-0.5, 0.15), "defiant": (-0.15, 0.45),
}
NOUNS = ("night", "morning", "river", "city", "heart", "road", "summer", "winter", "fire", "ocean", "dream", "light",
         "shadow", "window", "train", "garden", "mirror", "storm", "moon", "sky", "letter", "dance floor", "highway",
         "kitchen", "harbor", "echo", "avenue", "island", "signal", "velvet")
FIRST = ("Velvet", "Golden", "Silver", "Neon", "Paper", "Crystal", "Midnight", "Electric", "Northern", "Hollow", "Wild",
         "Quiet", "Broken", "Lucky", "Scarlet", "Ivory", "Copper", "Amber", "Violet", "Cobalt")
SECOND = ("Foxes", "Harbor", "Lines", "Parade", "Orchestra", "Trio", "Collective", "Kids", "Rivers", "Engines", "Saints",
          "Wolves", "Echoes", "Circuits", "Hearts", "Gardens", "Sisters", "Brothers", "Machines", "Tides")
FILTER = re.compile(r'(genre|artist|year):(?:"([^"]*)"|(\S+))')
TOKEN = re.compile(r"[a-z0-9&\-]+")
# The listener of the "Done when": top artists in 4 of the 24 genres.
NARROW_GENRES = ("jazz", "soul", "funk", "r&b")


@dataclass
class CatalogTrack:
    id: str
    name: str
    artist: int
    album: str
    year: int
    valence: float  # hidden
    arousal: float  # hidden
    tokens: frozenset


@dataclass
class CatalogArtist:
    id: str
    name: str
    genres: tuple[str, ...]


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x))


def _words_near(rng: random.Random, v: float, a: float, count: int) -> list[str]:
    ranked = sorted(LEXICON, key=lambda w: math.hypot(LEXICON[w][0] - v, LEXICON[w][1] - a))
    return [rng.choice(ranked[:5]) if rng.random() < 0.8 else rng.choice(list(LEXICON)) for _ in range(count)]


class Catalog:
    def __init__(self, seed: int = 7, artists: int = 360, tracks_per_artist: int = 18, genres_empty: bool = False):
        rng = random.Random(seed)
        names = [f"The {f} {s}" for f in FIRST for s in SECOND]
        rng.shuffle(names)
        genre_names = list(GENRES)
        self.artists: list[CatalogArtist] = []
        self.tracks: list[CatalogTrack] = []
        self.genres_empty = genres_empty
        for n in range(artists):
            genre = genre_names[n % len(genre_names)]
            self.artists.append(CatalogArtist(f"ar{n:05d}x", names[n % len(names)] + ("" if n < len(names) else f" {n}"), (genre,)))
            gv, ga = GENRES[genre]
            av, aa = gv + rng.gauss(0, 0.15), ga + rng.gauss(0, 0.15)
            for k in range(tracks_per_artist):
                v, a = _clip(av + rng.gauss(0, 0.3)), _clip(aa + rng.gauss(0, 0.3))
                r = rng.random()
                words = _words_near(rng, v, a, 2 if r < 0.35 else 1 if r < 0.75 else 0)
                title = " ".join([*words, rng.choice(NOUNS)]).title()
                album = (rng.choice(NOUNS) + " " + (_words_near(rng, gv, ga, 1)[0] if rng.random() < 0.4 else rng.choice(NOUNS))).title()
                tid = f"{n:05d}{k:02d}{rng.randrange(10**9):09d}"
                tokens = frozenset(TOKEN.findall(f"{title} {album} {self.artists[n].name}".lower()))
                self.tracks.append(CatalogTrack(tid, title, n, album, rng.randrange(1970, 2027), v, a, tokens))
        self.by_uri = {f"spotify:track:{t.id}": t for t in self.tracks}
        self.artist_by_id = {a.id: i for i, a in enumerate(self.artists)}
        # a stable "popularity" order without the removed popularity field: how search breaks ties
        self.rank = {t.id: rng.random() for t in self.tracks}
        self.listeners = {"narrow": self.listener(NARROW_GENRES, rng), "new": {"artists": [], "tracks": [], "recent": []}}

    # -- listeners --------------------------------------------------------------------------------
    def listener(self, genres: tuple[str, ...], rng: random.Random, count: int = 20) -> dict:
        pool = [i for i, a in enumerate(self.artists) if a.genres[0] in genres]
        chosen = rng.sample(pool, min(count, len(pool)))
        tracks = [t for t in self.tracks if t.artist in set(chosen)]
        return {"artists": chosen, "tracks": rng.sample(tracks, min(30, len(tracks))), "recent": rng.sample(tracks, min(50, len(tracks)))}

    def in_taste(self, uri: str, listener: str) -> bool:
        """The benchmark's taste share: a track by one of the listener's artists or in one of their genres."""
        who = self.listeners[listener]
        track = self.by_uri[uri]
        genres = {self.artists[i].genres[0] for i in who["artists"]}
        return track.artist in who["artists"] or self.artists[track.artist].genres[0] in genres

    # -- what the API shows -----------------------------------------------------------------------
    def artist_json(self, index: int) -> dict:
        a = self.artists[index]
        return {"id": a.id, "name": a.name, "uri": f"spotify:artist:{a.id}", "type": "artist",
                "genres": [] if self.genres_empty else list(a.genres)}

    def track_json(self, t: CatalogTrack) -> dict:
        a = self.artists[t.artist]
        return {"id": t.id, "uri": f"spotify:track:{t.id}", "name": t.name, "type": "track", "duration_ms": 180_000,
                "artists": [{"id": a.id, "name": a.name, "uri": f"spotify:artist:{a.id}"}],
                "album": {"name": t.album, "release_date": f"{t.year}-01-01"}}

    def search(self, query: str) -> list[CatalogTrack]:
        """Tracks for a query: the field filters restrict, the other words rank (at least one must match)."""
        filters: dict[str, str] = {}
        for key, quoted, bare in FILTER.findall(query):
            filters[key] = (quoted or bare).lower()
        words = TOKEN.findall(FILTER.sub(" ", query).lower())
        found = []
        for t in self.tracks:
            artist = self.artists[t.artist]
            if "genre" in filters and filters["genre"] not in artist.genres:
                continue
            if "artist" in filters and filters["artist"] != artist.name.lower():
                continue
            if "year" in filters:
                low, _, high = filters["year"].partition("-")
                if not (low.isdigit() and (high or low).isdigit() and int(low) <= t.year <= int(high or low)):
                    continue
            score = sum(w in t.tokens for w in words)
            if words and score == 0:
                continue
            found.append((-score, self.rank[t.id], t))
        found.sort(key=lambda x: (x[0], x[1]))
        return [t for _, _, t in found]
