"""A music catalog for the fake Spotify and the fake Last.fm, honest about the real world: thousands of tracks by
hundreds of artists in 24 genres, each track with a hidden valence-arousal point, listeners with top artists and
playlists of their own, and Last.fm tags. Made from a seed, the same every time.

What it must not do is hand the app the answer. So the mood reaches the app only the ways it reaches it on a real
account, at realistic strength, and through this file's own placements (the app's music/lexicon.py is never read):
- **Titles** rarely say mood: about 3% of titles and album names carry a mood word, and half of those are drawn at
  random (on real catalogs a title with "happy" is barely happier than average). The rest are plain words.
- **Genres** differ in mood (centres from about -0.8 to +0.7), tracks scatter widely around their artist (s.d. about
  0.5 of valence within a listener's taste), and the listener's own genres sit near neutral, as measured on real
  data.
- **The listener's playlists.** `narrow` has mood-named playlists ("Sad songs", "Feel good", "Workout", "Sunday
  morning", "rainy days", "Heavy rotation rage"...), each track fitting its name two times in three (the third is any track
  of their taste), and plainly named ones ("Road trip", "2019"); `plain` has the same taste and only plainly named
  playlists; `new` has nothing.
- **Last.fm tags** place a track only roughly: a tagged track's tags are drawn near its point plus noise, tuned so
  that the tags' valence correlates about 0.4 with the track's (what Deezer's tag-derived points give against
  Spotify's own valence); most tags say nothing of mood ("seen live", "female vocalists", a decade, the genre).
  Popular tracks are tagged more often; most tracks have no tags; artists are tagged by their whole output.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

# genre -> where its tracks centre (valence, arousal)
GENRES = {
    "pop": (0.45, 0.35), "dance": (0.6, 0.7), "edm": (0.35, 0.8), "house": (0.45, 0.6), "techno": (-0.1, 0.7),
    "hip hop": (0.0, 0.55), "rap": (-0.15, 0.6), "r&b": (0.15, 0.0), "soul": (-0.1, -0.1), "funk": (0.15, 0.45),
    "jazz": (0.05, -0.3), "blues": (-0.45, -0.25), "rock": (-0.1, 0.55), "indie": (-0.05, 0.05), "metal": (-0.8, 0.8),
    "punk": (-0.45, 0.8), "folk": (-0.15, -0.45), "acoustic": (0.1, -0.5), "country": (0.25, 0.1),
    "classical": (-0.05, -0.55), "ambient": (-0.1, -0.7), "lo-fi": (0.05, -0.55), "reggae": (0.7, -0.05),
    "latin": (0.65, 0.55),
}
# This stand-in's own words for mood (its own placement, not the app's), for titles, tags and playlist names.
MOOD_WORDS = {
    "happy": (0.7, 0.4), "joy": (0.75, 0.5), "sunshine": (0.65, 0.3), "party": (0.55, 0.8), "dance": (0.5, 0.75),
    "upbeat": (0.6, 0.6), "energetic": (0.3, 0.85), "feel good": (0.7, 0.45), "fun": (0.7, 0.6), "romantic": (0.55, -0.05),
    "chill": (0.35, -0.45), "mellow": (0.25, -0.55), "relaxing": (0.4, -0.6), "calm": (0.3, -0.7), "peaceful": (0.45, -0.65),
    "dreamy": (0.3, -0.4), "sleep": (0.1, -0.85), "sad": (-0.6, -0.3), "melancholy": (-0.45, -0.4), "lonely": (-0.55, -0.35),
    "depressing": (-0.65, -0.35), "heartbreak": (-0.6, -0.05), "rainy": (-0.3, -0.45), "dark": (-0.45, 0.3),
    "aggressive": (-0.45, 0.8), "angry": (-0.55, 0.7), "intense": (-0.2, 0.75), "epic": (0.3, 0.7), "atmospheric": (0.0, -0.4),
    "nostalgic": (0.1, -0.25),
}
# Tags people give that say nothing of mood: the commonest on Last.fm.
PLAIN_TAGS = ("seen live", "female vocalists", "male vocalists", "favorites", "00s", "90s", "80s", "70s", "british",
              "american", "love at first listen", "spotify", "cover", "guitar", "soundtrack")
MOOD_PLAYLISTS = {  # a name -> where its tracks are meant to sit (this stand-in's placement)
    "Sad songs": (-0.6, -0.3), "Feel good": (0.7, 0.4), "Workout": (0.3, 0.8), "Sunday morning": (0.45, -0.45),
    "rainy days": (-0.35, -0.45), "Heavy rotation rage": (-0.55, 0.75), "happy happy": (0.75, 0.5),
}
PLAIN_PLAYLISTS = ("Road trip", "2019", "Favourites", "Kitchen")
# Plain words: nouns and adjectives that say no mood (so titles carry mood words about as rarely as real ones do).
NOUNS = ("river", "city", "heart", "road", "window", "train", "mirror", "moon", "sky", "letter", "highway", "kitchen",
         "harbor", "echo", "avenue", "island", "signal", "velvet", "paper", "ocean", "shadow", "stone", "glass", "wire",
         "motel", "station", "corner", "radio", "silver", "number", "circle", "telephone", "bridge", "canyon", "tower",
         "mountain", "desert", "orchard", "engine", "ladder", "compass", "lantern", "museum", "parade", "ticket")
PLAIN_ADJECTIVES = ("golden", "little", "old", "new", "long", "second", "last", "first", "red", "open", "yellow",
                    "northern", "paper", "green", "distant", "hidden", "white", "copper", "western", "narrow")
FIRST = ("Velvet", "Golden", "Silver", "Neon", "Paper", "Crystal", "Marble", "Granite", "Northern", "Hollow", "Western",
         "Tin", "Broken", "Lucky", "Scarlet", "Ivory", "Copper", "Amber", "Violet", "Cobalt")
SECOND = ("Foxes", "Harbor", "Lines", "Parade", "Orchestra", "Trio", "Collective", "Kids", "Rivers", "Engines", "Saints",
          "Wolves", "Echoes", "Circuits", "Hearts", "Lanterns", "Sisters", "Brothers", "Machines", "Tides")
FILTER = re.compile(r'(genre|artist|year|track):(?:"([^"]*)"|(\S+))')
TOKEN = re.compile(r"[a-z0-9&\-]+")
# The listener of the issue: top artists in 4 of the 24 genres, all near neutral.
NARROW_GENRES = ("jazz", "soul", "funk", "r&b")
TITLE_MOOD_SHARE = 0.03  # titles or album names that carry a mood word
TAG_NOISE = 1.2  # s.d. of the noise added to a track's point before its tags are drawn: tags' valence r about 0.4


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
    popularity: float = 0.0  # 0..1, hidden too (the 2026 API removed the field); tagging and tag charts use it
    tags: list = field(default_factory=list)  # [(tag, count)] on Last.fm, most-used first


@dataclass
class CatalogArtist:
    id: str
    name: str
    genres: tuple[str, ...]
    tags: list = field(default_factory=list)


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x))


def _nearest_words(v: float, a: float, count: int) -> list[str]:
    return sorted(MOOD_WORDS, key=lambda w: math.hypot(MOOD_WORDS[w][0] - v, MOOD_WORDS[w][1] - a))[:count]


class Catalog:
    def __init__(self, seed: int = 7, artists: int = 360, tracks_per_artist: int = 18, genres_empty: bool = False,
                 taste_genres: tuple[str, ...] = NARROW_GENRES):
        rng = random.Random(seed)
        names = [f"The {f} {s}" for f in FIRST for s in SECOND]
        rng.shuffle(names)
        genre_names = list(GENRES)
        self.artists: list[CatalogArtist] = []
        self.tracks: list[CatalogTrack] = []
        self.genres_empty = genres_empty
        for n in range(artists):
            genre = genre_names[n % len(genre_names)]
            artist = CatalogArtist(f"ar{n:05d}x", names[n % len(names)] + ("" if n < len(names) else f" {n}"), (genre,))
            self.artists.append(artist)
            gv, ga = GENRES[genre]
            av, aa = _clip(gv + rng.gauss(0, 0.2)), _clip(ga + rng.gauss(0, 0.2))
            fame = rng.random() ** 2  # most artists are little known
            for k in range(tracks_per_artist):
                v, a = _clip(av + rng.gauss(0, 0.45)), _clip(aa + rng.gauss(0, 0.35))
                title = self._title(rng, v, a)
                album = f"{rng.choice(PLAIN_ADJECTIVES)} {rng.choice(NOUNS)}".title()
                tid = f"{n:05d}{k:02d}{rng.randrange(10**9):09d}"
                tokens = frozenset(TOKEN.findall(f"{title} {album} {artist.name}".lower()))
                popularity = min(1.0, fame * 0.7 + rng.random() * 0.3)
                track = CatalogTrack(tid, title, n, album, rng.randrange(1970, 2027), v, a, tokens, popularity)
                track.tags = self._track_tags(rng, track, genre)
                self.tracks.append(track)
            mine = [t for t in self.tracks if t.artist == n]
            artist.tags = self._artist_tags(rng, mine, genre)
        self.by_uri = {f"spotify:track:{t.id}": t for t in self.tracks}
        self.artist_by_id = {a.id: i for i, a in enumerate(self.artists)}
        # a stable order without the removed popularity field: how search breaks ties (popular first, roughly)
        self.rank = {t.id: -t.popularity + rng.random() * 0.3 for t in self.tracks}
        taste = self._taste(taste_genres, rng)
        self.listeners = {
            "narrow": {**taste, "playlists": self._playlists(rng, taste, mood_named=True)},
            "plain": {**taste, "playlists": self._playlists(rng, taste, mood_named=False)},
            "new": {"artists": [], "tracks": [], "recent": [], "playlists": []},
        }

    # -- what the catalog holds -------------------------------------------------------------------
    @staticmethod
    def _title(rng: random.Random, v: float, a: float) -> str:
        words = [rng.choice(PLAIN_ADJECTIVES)] if rng.random() < 0.5 else []
        words.append(rng.choice(NOUNS))
        if rng.random() < TITLE_MOOD_SHARE:  # a mood word, only loosely tied to the track's mood
            words.insert(0, rng.choice(_nearest_words(v, a, 6)) if rng.random() < 0.5 else rng.choice(list(MOOD_WORDS)))
        return " ".join(words).title()

    @staticmethod
    def _track_tags(rng: random.Random, track: CatalogTrack, genre: str) -> list:
        if rng.random() > 0.1 + 0.6 * track.popularity:  # popular tracks are tagged more often
            return []
        v, a = track.valence + rng.gauss(0, TAG_NOISE), track.arousal + rng.gauss(0, TAG_NOISE)
        tags = {genre: rng.randrange(20, 100)}
        for word in rng.sample(_nearest_words(v, a, 3), rng.randint(1, 2)):
            tags[word] = rng.randrange(5, 100)
        for plain in rng.sample(PLAIN_TAGS, rng.randint(0, 3)):
            tags[plain] = rng.randrange(5, 100)
        return sorted(tags.items(), key=lambda kv: -kv[1])

    @staticmethod
    def _artist_tags(rng: random.Random, tracks: list[CatalogTrack], genre: str) -> list:
        v = sum(t.valence for t in tracks) / len(tracks) + rng.gauss(0, 0.35)
        a = sum(t.arousal for t in tracks) / len(tracks) + rng.gauss(0, 0.35)
        tags = {genre: 100, **{w: rng.randrange(5, 60) for w in _nearest_words(v, a, 2)},
                **{p: rng.randrange(5, 80) for p in rng.sample(PLAIN_TAGS, 3)}}
        return sorted(tags.items(), key=lambda kv: -kv[1])

    def tag_top_tracks(self, tag: str, limit: int = 50) -> list[CatalogTrack]:
        """Last.fm's tag.getTopTracks: the tracks most tagged with it, popular ones first."""
        tag = tag.lower()
        tagged = [(count, t.popularity, t) for t in self.tracks for name, count in t.tags if name == tag]
        tagged.sort(key=lambda x: (-x[0] * (0.5 + x[1]), x[2].id))
        return [t for _, _, t in tagged[:limit]]

    # -- listeners --------------------------------------------------------------------------------
    def _taste(self, genres: tuple[str, ...], rng: random.Random, count: int = 20) -> dict:
        pool = [i for i, a in enumerate(self.artists) if a.genres[0] in genres]
        chosen = rng.sample(pool, min(count, len(pool)))
        tracks = [t for t in self.tracks if t.artist in set(chosen)]
        return {"artists": chosen, "tracks": rng.sample(tracks, min(30, len(tracks))),
                "recent": rng.sample(tracks, min(50, len(tracks)))}

    def _playlists(self, rng: random.Random, taste: dict, mood_named: bool) -> list[dict]:
        """The listener's own playlists: a mood-named one fits its name two times in three."""
        theirs = [t for t in self.tracks if t.artist in set(taste["artists"])]
        lists = []
        if mood_named:
            for name, (v, a) in MOOD_PLAYLISTS.items():
                size = rng.randint(25, 40)
                # people file what they know, and a little of what they found elsewhere
                near = sorted(theirs + rng.sample(self.tracks, 600), key=lambda t: math.hypot(t.valence - v, t.arousal - a))[:150]
                chosen: dict[str, CatalogTrack] = {}
                while len(chosen) < size:
                    t = rng.choice(near) if rng.random() < 2 / 3 else rng.choice(theirs)
                    chosen[t.id] = t
                lists.append({"name": name, "tracks": list(chosen.values())})
        for name in PLAIN_PLAYLISTS:
            lists.append({"name": name, "tracks": rng.sample(theirs, rng.randint(20, 35))})
        rng.shuffle(lists)
        return lists

    def in_taste(self, uri: str, listener: str) -> bool:
        """The benchmark's taste share: a track by one of the listener's artists or in one of their genres."""
        who = self.listeners[listener]
        track = self.by_uri[uri]
        genres = {self.artists[i].genres[0] for i in who["artists"]}
        return track.artist in who["artists"] or self.artists[track.artist].genres[0] in genres

    # -- what the APIs show -----------------------------------------------------------------------
    def artist_json(self, index: int) -> dict:
        a = self.artists[index]
        return {"id": a.id, "name": a.name, "uri": f"spotify:artist:{a.id}", "type": "artist",
                "genres": [] if self.genres_empty else list(a.genres)}

    def track_json(self, t: CatalogTrack) -> dict:
        a = self.artists[t.artist]
        return {"id": t.id, "uri": f"spotify:track:{t.id}", "name": t.name, "type": "track", "duration_ms": 180_000,
                "artists": [{"id": a.id, "name": a.name, "uri": f"spotify:artist:{a.id}"}],
                "album": {"name": t.album, "release_date": f"{t.year}-01-01"}}

    def find(self, artist: str, title: str) -> CatalogTrack | None:
        """A track by its artist's and its own name (Last.fm's names), case folded."""
        for t in self.tracks:
            if t.name.lower() == title.lower() and self.artists[t.artist].name.lower() == artist.lower():
                return t
        return None

    def search(self, query: str) -> list[CatalogTrack]:
        """Tracks for a query: the field filters restrict, the other words rank (at least one must match), in names
        only, as Spotify's search does."""
        filters: dict[str, str] = {}
        for key, quoted, bare in FILTER.findall(query):
            filters[key] = (quoted or bare).lower()
        words = TOKEN.findall(FILTER.sub(" ", query).lower())
        wanted_title = set(TOKEN.findall(filters.get("track", "")))
        found = []
        for t in self.tracks:
            artist = self.artists[t.artist]
            if "genre" in filters and filters["genre"] not in artist.genres:
                continue
            if "artist" in filters and filters["artist"] != artist.name.lower():
                continue
            if wanted_title and not wanted_title <= set(TOKEN.findall(t.name.lower())):
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
